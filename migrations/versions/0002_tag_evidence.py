"""Topic tags keep the evidence their rule needs (title, abstract weight, exclusions).

Revision ID: 0002
Revises: 0002_sync
Create Date: 2026-11-30

A plain ALTER TABLE ADD COLUMN: rebuilding `tags` would, with foreign keys on,
cascade to `paper_tags` when the old table is dropped.
"""
import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0002_sync"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # JSON of app.topic_evidence.Evidence; empty: the query alone decides.
    op.add_column("tags", sa.Column("evidence", sa.Text(), nullable=False, server_default=""))


def downgrade() -> None:
    op.drop_column("tags", "evidence")
