"""SQLModel tables (the schema Alembic compares against) and public read models.

The FTS5 table `papers_fts` and its triggers live only in the migrations: SQLAlchemy
cannot describe virtual tables, and the Alembic env filters them out of autogenerate.
"""

from datetime import date, datetime

from sqlalchemy import Column, ForeignKey, Index, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlmodel import Field, SQLModel


class Paper(SQLModel, table=True):
    __tablename__ = "papers"
    __table_args__ = (Index("ix_papers_title_norm", "title_norm"),
                      Index("ix_papers_published", "published"),
                      Index("ix_papers_line_hash", "line_hash"))

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(sa_column=Column(String, nullable=False, unique=True))
    arxiv_id: str | None = Field(default=None, sa_column=Column(String, unique=True))
    title: str = Field(sa_column=Column(Text, nullable=False))
    abstract: str = Field(sa_column=Column(Text, nullable=False))
    # Author names joined with ", ": what FTS indexes and what lists display;
    # the ordered, linkable list is in paper_authors.
    authors: str = Field(default="", sa_column=Column(Text, nullable=False, server_default=""))
    # Source categories (arXiv codes), space-separated, as the record gave them;
    # the facet-ready form is paper_tags with kind "category".
    categories: str = Field(default="", sa_column=Column(Text, nullable=False, server_default=""))
    # ACM and MSC codes ("acm:I.2.7 msc:68T50"), kept apart from arXiv categories;
    # the facet-ready form is paper_tags with kind "classification".
    classifications: str = Field(default="", sa_column=Column(Text, nullable=False, server_default=""))
    upvotes: int | None = None  # popularity on the daily-papers feed, where the paper came from there
    published: date | None = None
    # When the text held was last revised at its source (latest version); an older record never
    # overwrites it. None where no source dated its versions.
    revised: date | None = None
    year: int | None = Field(default=None, index=True)
    added_at: datetime
    updated_at: datetime
    source: str = Field(sa_column=Column(String, nullable=False))
    url: str | None = None
    title_norm: str = Field(sa_column=Column(Text, nullable=False))
    content_hash: str = Field(sa_column=Column(String, nullable=False))
    # Hash of the JSON Lines line this paper was last written from (app/ingest/lines.py).
    line_hash: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))


class Author(SQLModel, table=True):
    __tablename__ = "authors"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(sa_column=Column(Text, nullable=False))
    slug: str = Field(sa_column=Column(String, nullable=False, unique=True))


class PaperAuthor(SQLModel, table=True):
    __tablename__ = "paper_authors"
    __table_args__ = (Index("ix_paper_authors_author", "author_id", "paper_id"),
                      {"sqlite_with_rowid": False})

    paper_id: int = Field(sa_column=Column(Integer, ForeignKey("papers.id", ondelete="CASCADE"),
                                           primary_key=True))
    position: int = Field(sa_column=Column(Integer, primary_key=True, autoincrement=False))
    author_id: int = Field(sa_column=Column(Integer, ForeignKey("authors.id"), nullable=False))


class Tag(SQLModel, table=True):
    __tablename__ = "tags"

    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(sa_column=Column(String, nullable=False, unique=True))
    name: str = Field(sa_column=Column(Text, nullable=False))
    kind: str = Field(sa_column=Column(String, nullable=False))  # "topic", "category", "classification"
    description: str = Field(default="", sa_column=Column(Text, nullable=False, server_default=""))
    rule: str = Field(default="", sa_column=Column(Text, nullable=False, server_default=""))
    # For topics: JSON of app.topic_evidence.Evidence, how strong a match must be ("" = any match).
    evidence: str = Field(default="", sa_column=Column(Text, nullable=False, server_default=""))


class PaperTag(SQLModel, table=True):
    __tablename__ = "paper_tags"
    __table_args__ = (Index("ix_paper_tags_paper", "paper_id", "tag_id"),
                      {"sqlite_with_rowid": False})

    tag_id: int = Field(sa_column=Column(Integer, ForeignKey("tags.id", ondelete="CASCADE"),
                                         primary_key=True))
    paper_id: int = Field(sa_column=Column(Integer, ForeignKey("papers.id", ondelete="CASCADE"),
                                           primary_key=True))


class Alias(SQLModel, table=True):
    __tablename__ = "aliases"

    key: str = Field(sa_column=Column(String, primary_key=True))
    paper_id: int = Field(sa_column=Column(Integer, ForeignKey("papers.id", ondelete="CASCADE"),
                                           nullable=False, index=True))


class SyncState(SQLModel, table=True):
    """How far harvesting from one source (e.g. "arxiv:cs") has got."""
    __tablename__ = "sync_state"

    source: str = Field(sa_column=Column(String, primary_key=True))
    harvested_until: str | None = None
    started_from: str | None = None
    resumption_token: str | None = None
    records: int = Field(default=0, sa_column=Column(Integer, nullable=False, server_default="0"))
    updated_at: datetime


__all__ = ["Alias", "Author", "Paper", "PaperAuthor", "PaperTag", "SyncState", "Tag", "UniqueConstraint"]
