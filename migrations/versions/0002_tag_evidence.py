"""Topic tags keep the evidence their rule needs (title, abstract weight, exclusions).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30
"""
import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # JSON of app.topic_evidence.Evidence; empty: the query alone decides.
    with op.batch_alter_table("tags") as batch:
        batch.add_column(sa.Column("evidence", sa.Text(), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("tags") as batch:
        batch.drop_column("evidence")
