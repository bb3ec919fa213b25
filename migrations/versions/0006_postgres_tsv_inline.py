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
1.1-1.4 s against 3.3-5.3 s (bench/README.md).

A row with its tsvector inline is over the 2 KB at which PostgreSQL moves the row's
longest other values out of line, and that took `title_norm` too: the start-up sort of
every paper by it then read the TOAST table at each comparison (the in-memory catalogue
built in 20-24 s instead of 4-5 s at 165k). The short columns read for many rows at a
time (`title_norm` by that sort, the keys, ids and hashes by ingest and sync) are
therefore PLAIN: never compressed nor moved; the abstract, title, authors and the
other long texts move out first, as before.

Rows already stored keep their
storage until they are written again (PostgreSQL does not rewrite a table for it):
rebuild a catalogue (`python -m bench.backends copy`, or a dump and restore) to move
every tsvector.
"""
from alembic import op

revision = "0006_postgres_tsv_inline"
down_revision = "0005_postgres_counts"
branch_labels = None
depends_on = None

PLAIN = ("key", "arxiv_id", "title_norm", "content_hash", "line_hash", "source")


def upgrade() -> None:
    _set_storage(tsv="MAIN", short="PLAIN")


def downgrade() -> None:
    _set_storage(tsv="EXTENDED", short="EXTENDED")


def _set_storage(tsv: str, short: str) -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(f"ALTER TABLE papers ALTER COLUMN tsv SET STORAGE {tsv}")
    for column in PLAIN:
        op.execute(f"ALTER TABLE papers ALTER COLUMN {column} SET STORAGE {short}")
