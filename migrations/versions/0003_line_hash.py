"""Papers remember the hash of the JSON Lines line they were last written from.

Revision ID: 0003_line_hash
Revises: 0002
Create Date: 2026-11-30

A re-ingest compares each line's hash with these before parsing it: an unchanged
line costs a hash and an index look-up instead of a parse (app/ingest/lines.py).
NULL for papers written from any other input, or from a record that lost a field.
"""
import sqlalchemy as sa
from alembic import op

revision = "0003_line_hash"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("papers", sa.Column("line_hash", sa.LargeBinary(), nullable=True))
    op.create_index("ix_papers_line_hash", "papers", ["line_hash"])


def downgrade() -> None:
    op.drop_index("ix_papers_line_hash", "papers")
    op.drop_column("papers", "line_hash")
