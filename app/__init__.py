"""A searchable web catalogue of research papers on one SQLite file."""
