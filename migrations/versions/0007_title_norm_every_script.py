"""Titles are recognised by their letters in every script, not only a-z and 0-9.

Revision ID: 0007_title_norm_every_script
Revises: 0006_postgres_tsv_inline
Create Date: 2026-12-01

`title_norm` used to keep only ASCII letters and digits once accents were folded, so a
Chinese, Russian or Greek title reduced to nothing (or to its Latin part), and two such
papers without an arXiv id were taken for one. Each stored title with other characters
gets its form anew (app/ingest/records.py, `normalize_title`); ASCII titles, and titles
whose accents fold to ASCII, had the same form before and are not touched. Keys are
kept, so every permalink still answers.
"""
import sqlalchemy as sa
from alembic import op

from app.ingest.records import normalize_title

revision = "0007_title_norm_every_script"
down_revision = "0006_postgres_tsv_inline"
branch_labels = None
depends_on = None

BATCH = 1_000


def upgrade() -> None:
    conn = op.get_bind()
    changed = []
    for paper_id, title, stored in conn.execute(sa.text("SELECT id, title, title_norm FROM papers")):
        if not title.isascii() and normalize_title(title) != stored:
            changed.append({"id": paper_id, "norm": normalize_title(title)})
    update = sa.text("UPDATE papers SET title_norm = :norm WHERE id = :id")
    for start in range(0, len(changed), BATCH):
        conn.execute(update, changed[start:start + BATCH])


def downgrade() -> None:
    """Nothing to undo: the older code reads either form, and writes its own on the next change."""
