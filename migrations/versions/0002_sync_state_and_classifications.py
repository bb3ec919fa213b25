"""Classifications and popularity on papers; per-source harvesting state.

Revision ID: 0002_sync
Revises: 0001
Create Date: 2026-11-30

Columns are added with plain ALTER TABLE (no table rebuild), so the FTS5
triggers on `papers` are untouched.
"""
import sqlalchemy as sa
from alembic import op

revision = "0002_sync"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # ACM and MSC codes given by the source ("acm:I.2.7 msc:68T50"); their facet-ready form
    # is paper_tags with kind "classification".
    op.add_column("papers", sa.Column("classifications", sa.Text(), nullable=False, server_default=""))
    # Upvotes on the daily-papers feed: a popularity signal, absent for other sources.
    op.add_column("papers", sa.Column("upvotes", sa.Integer(), nullable=True))
    op.create_table(
        "sync_state",
        sa.Column("source", sa.String(), primary_key=True),        # "arxiv:cs", "daily"
        sa.Column("harvested_until", sa.String(), nullable=True),  # last datestamp fully committed
        sa.Column("started_from", sa.String(), nullable=True),     # the from date of the run under way
        sa.Column("resumption_token", sa.String(), nullable=True), # where the run under way stands
        sa.Column("records", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("sync_state")
    op.drop_column("papers", "upvotes")
    op.drop_column("papers", "classifications")
