"""The schema comes from migrations only, and they round-trip."""

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

import app.models  # noqa: F401 - registers the tables
from app import migrate
from app.db import connect, make_engine

pytestmark = pytest.mark.sqlite_only  # SQLite's schema tables and FTS5 triggers


def _include(obj, name, type_, reflected, compare_to):
    # The same filter as migrations/env.py: FTS5 tables are not SQLAlchemy's to manage.
    return not (type_ == "table" and (name.startswith("papers_fts") or name.startswith("sqlite_")))


def test_upgrade_creates_the_fts_index_and_triggers(tmp_path):
    url = f"sqlite:///{tmp_path / 'm.db'}"
    migrate.upgrade(url)
    names = {r[0] for r in connect(tmp_path / "m.db").execute("SELECT name FROM sqlite_master")}
    assert {"papers", "papers_fts", "papers_fts_vocab", "papers_fts_ai", "papers_fts_ad", "papers_fts_au",
            "authors", "paper_authors", "tags", "paper_tags", "aliases"} <= names


def test_downgrade_to_base_removes_everything(tmp_path):
    url = f"sqlite:///{tmp_path / 'm.db'}"
    migrate.upgrade(url)
    migrate.downgrade(url, "base")
    names = {r[0] for r in connect(tmp_path / "m.db").execute(
        "SELECT name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'")}
    assert names <= {"alembic_version"}


def test_models_and_migrations_agree(tmp_path):
    url = f"sqlite:///{tmp_path / 'm.db'}"
    migrate.upgrade(url)
    engine = make_engine(url)
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"include_object": _include, "compare_type": True})
        assert compare_metadata(context, SQLModel.metadata) == []
    engine.dispose()


def test_connections_use_wal_and_foreign_keys(tmp_path):
    migrate.upgrade(f"sqlite:///{tmp_path / 'm.db'}")
    conn = connect(tmp_path / "m.db")
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1


def test_titles_in_other_scripts_get_their_letters_back_on_upgrade(tmp_path):
    url = f"sqlite:///{tmp_path / 'm.db'}"
    migrate.upgrade(url, "0006_postgres_tsv_inline")
    conn = connect(tmp_path / "m.db")
    insert = ("INSERT INTO papers (key, title, abstract, authors, categories, added_at, updated_at, source,"
              " title_norm, content_hash) VALUES (?, ?, 'An abstract.', '', '', '2026-01-01', '2026-01-01', 'x', ?, 'h')")
    conn.execute(insert, ("t1", "深度学习综述", ""))
    conn.execute(insert, ("t2", "Zoë and the α-Divergence", "zoe and the divergence"))
    conn.execute(insert, ("t3", "Plain title", "plain title"))
    conn.commit()
    migrate.upgrade(url)
    norms = dict(conn.execute("SELECT key, title_norm FROM papers"))
    assert norms == {"t1": "深度学习综述", "t2": "zoe and the α divergence", "t3": "plain title"}
