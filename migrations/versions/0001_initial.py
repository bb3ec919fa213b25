"""Initial schema: papers, authors, tags, aliases, and the FTS5 index with its triggers.

Revision ID: 0001
Revises:
Create Date: 2026-11-29
"""
import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

FTS_TABLE = """
CREATE VIRTUAL TABLE papers_fts USING fts5(
    title, abstract, authors,
    content='papers', content_rowid='id',
    tokenize='porter unicode61 remove_diacritics 2'
)"""

# External-content FTS5 kept in step with `papers` inside every write transaction.
FTS_TRIGGERS = [
    """CREATE TRIGGER papers_fts_ai AFTER INSERT ON papers BEGIN
        INSERT INTO papers_fts(rowid, title, abstract, authors)
        VALUES (new.id, new.title, new.abstract, new.authors);
    END""",
    """CREATE TRIGGER papers_fts_ad AFTER DELETE ON papers BEGIN
        INSERT INTO papers_fts(papers_fts, rowid, title, abstract, authors)
        VALUES ('delete', old.id, old.title, old.abstract, old.authors);
    END""",
    """CREATE TRIGGER papers_fts_au AFTER UPDATE OF title, abstract, authors ON papers BEGIN
        INSERT INTO papers_fts(papers_fts, rowid, title, abstract, authors)
        VALUES ('delete', old.id, old.title, old.abstract, old.authors);
        INSERT INTO papers_fts(rowid, title, abstract, authors)
        VALUES (new.id, new.title, new.abstract, new.authors);
    END""",
]

# Term list of the index, feeding spelling suggestions.
FTS_VOCAB = "CREATE VIRTUAL TABLE papers_fts_vocab USING fts5vocab(papers_fts, row)"


def upgrade() -> None:
    op.create_table(
        "papers",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("key", sa.String(), nullable=False, unique=True),
        sa.Column("arxiv_id", sa.String(), nullable=True, unique=True),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("abstract", sa.Text(), nullable=False),
        sa.Column("authors", sa.Text(), nullable=False, server_default=""),
        sa.Column("categories", sa.Text(), nullable=False, server_default=""),
        sa.Column("published", sa.Date(), nullable=True),
        sa.Column("year", sa.Integer(), nullable=True),
        sa.Column("added_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("source", sa.String(), nullable=False),
        sa.Column("url", sa.String(), nullable=True),
        sa.Column("title_norm", sa.Text(), nullable=False),
        sa.Column("content_hash", sa.String(), nullable=False),
    )
    op.create_index("ix_papers_title_norm", "papers", ["title_norm"])
    op.create_index("ix_papers_published", "papers", ["published"])
    op.create_index("ix_papers_year", "papers", ["year"])

    op.create_table(
        "authors",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("slug", sa.String(), nullable=False, unique=True),
    )
    op.create_table(
        "paper_authors",
        sa.Column("paper_id", sa.Integer(), sa.ForeignKey("papers.id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("position", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("author_id", sa.Integer(), sa.ForeignKey("authors.id"), nullable=False),
        sqlite_with_rowid=False,  # link tables: the primary key is the row, one B-tree less
    )
    op.create_index("ix_paper_authors_author", "paper_authors", ["author_id", "paper_id"])

    op.create_table(
        "tags",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("slug", sa.String(), nullable=False, unique=True),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False, server_default=""),
        sa.Column("rule", sa.Text(), nullable=False, server_default=""),
    )
    op.create_table(
        "paper_tags",
        sa.Column("tag_id", sa.Integer(), sa.ForeignKey("tags.id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("paper_id", sa.Integer(), sa.ForeignKey("papers.id", ondelete="CASCADE"),
                  primary_key=True),
        sqlite_with_rowid=False,
    )
    op.create_index("ix_paper_tags_paper", "paper_tags", ["paper_id", "tag_id"])

    op.create_table(
        "aliases",
        sa.Column("key", sa.String(), primary_key=True),
        sa.Column("paper_id", sa.Integer(), sa.ForeignKey("papers.id", ondelete="CASCADE"),
                  nullable=False),
    )
    op.create_index("ix_aliases_paper_id", "aliases", ["paper_id"])

    # The full-text index is the engine's: FTS5 here; on PostgreSQL, 0004_postgres.
    if op.get_bind().dialect.name != "sqlite":
        return
    op.execute(FTS_TABLE)
    for trigger in FTS_TRIGGERS:
        op.execute(trigger)
    op.execute(FTS_VOCAB)


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        for name in ("aliases", "paper_tags", "tags", "paper_authors", "authors", "papers"):
            op.drop_table(name)
        return
    op.execute("DROP TABLE IF EXISTS papers_fts_vocab")
    for name in ("papers_fts_ai", "papers_fts_ad", "papers_fts_au"):
        op.execute(f"DROP TRIGGER IF EXISTS {name}")
    op.execute("DROP TABLE IF EXISTS papers_fts")
    op.drop_table("aliases")
    op.drop_table("paper_tags")
    op.drop_table("tags")
    op.drop_table("paper_authors")
    op.drop_table("authors")
    op.drop_table("papers")
