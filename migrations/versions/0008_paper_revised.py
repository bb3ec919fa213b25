"""Papers remember when the text they hold was last revised at its source.

Revision ID: 0008_paper_revised
Revises: 0007_title_norm_every_script
Create Date: 2026-12-01

The date of the latest version (arXiv's `updated`, the snapshot's `update_date`, the last
of `versions`), where a versioned source says it. A record older than the one a paper holds
never overwrites it: an older snapshot ingested after a sync, or two versions of one paper in
one file, leave the newest text in place (app/ingest/load.py). NULL where no source dated it.
"""
import sqlalchemy as sa
from alembic import op

revision = "0008_paper_revised"
down_revision = "0007_title_norm_every_script"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("papers", sa.Column("revised", sa.Date(), nullable=True))


def downgrade() -> None:
    op.drop_column("papers", "revised")
