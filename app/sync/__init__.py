"""`papers sync`: keep the catalogue current from live sources, politely and resumably.

Fetching lives here; parsing and loading are the ingest's own (`app.ingest`), so
a harvested page goes through exactly the rules a file does. Each page is
committed as it arrives, and how far a source has got is kept in the database
(`sync_state`), so an interrupted sync loses nothing and the next run resumes.
"""
