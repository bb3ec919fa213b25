"""A small catalogue with authors, dates and categories, for the search and API tests.

The papers are in search_papers.jsonl next to this file: made-up records written
so that each query-language feature has papers that must and must not match.
"""

from pathlib import Path

import pytest
from backends import database_url

from app import migrate
from app.db import connect
from app.ingest import ingest
from app.search import SearchParams, SearchResult, run
from app.settings import get_settings

FIXTURE = Path(__file__).with_name("search_papers.jsonl")
PAPERS = sum(1 for line in FIXTURE.read_text(encoding="utf-8").splitlines() if line.strip())


def load(path: Path | str, files=(FIXTURE,)) -> Path | str:
    migrate.upgrade(database_url(path))
    conn = connect(path)
    try:
        _stats, status = ingest(conn, [str(f) for f in files], quiet=True)
    finally:
        conn.close()
    assert status == 0
    return path


@pytest.fixture(scope="session")
def fixture_database(make_database) -> Path | str:
    return load(make_database("search"))


@pytest.fixture
def catalogue(fixture_database, monkeypatch) -> Path:
    """Settings pointed at the shared fixture catalogue (read-only)."""
    monkeypatch.setenv("DATABASE_URL", database_url(fixture_database))
    get_settings.cache_clear()
    yield fixture_database
    get_settings.cache_clear()


def search(q: str = "", **params) -> SearchResult:
    params.setdefault("per_page", 100)
    return run(SearchParams(q=q, **params))


def keys(q: str = "", **params) -> list[str]:
    return [hit.key for hit in search(q, **params).hits]
