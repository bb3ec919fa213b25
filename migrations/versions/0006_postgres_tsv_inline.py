"""PostgreSQL: each paper's tsvector kept inline in its row (STORAGE MAIN), not in TOAST.

Revision ID: 0006_postgres_tsv_inline
Revises: 0005_postgres_counts
Create Date: 2026-12-01

Nothing changes on SQLite. Scoring a word reads the tsvector of every paper that
contains it (its occurrences per column: app/engine/postgres.py), and a tsvector is
about 2 KB compressed, so with the default storage (EXTENDED) nearly half of them
were moved out of line into the TOAST table: each read of one was an index look-up
and several chunk reads there, once for the match test and once per count. Kept in
the row (still compressed; the abstract, the wider text, moves out of line first
when a row is too long), the statement scoring "model" over the 165k catalogue took
1.1-1.4 s against 3.3-5.3 s (bench/README.md). Rows already stored keep their
storage until they are written again (PostgreSQL does not rewrite a table for it):
rebuild a catalogue (`python -m bench.backends copy`, or a dump and restore) to move
every tsvector.
"""
from alembic import op

revision = "0006_postgres_tsv_inline"
down_revision = "0005_postgres_counts"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("ALTER TABLE papers ALTER COLUMN tsv SET STORAGE MAIN")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("ALTER TABLE papers ALTER COLUMN tsv SET STORAGE EXTENDED")
