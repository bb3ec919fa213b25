"""A catalogue loaded with hostile papers (markup, scripts, TeX commands, invisible characters) by the real ingest."""

import io
import json

import pytest

from hostile_records import REFUSED, STORED, STRIPPED

from backends import database_url

from app.db import connect
from app.settings import get_settings

@pytest.fixture(scope="session")
def hostile_database(tmp_path_factory, make_database):
    """The hostile records plus the refused ones, loaded by `ingest` as a user would; returns (path, report)."""
    from app.ingest import ingest

    folder = tmp_path_factory.mktemp("hostile")
    source = folder / "hostile.jsonl"
    records = (list(STORED.values()) + [record for record, _ in STRIPPED.values()]
               + [record for record, _ in REFUSED.values()])
    source.write_text("".join(json.dumps(r) + "\n" for r in records))
    path = make_database("hostile")
    conn = connect(path)
    report = io.StringIO()
    stats, status = ingest(conn, [str(source)], fmt="jsonl", source="hostile", quiet=True, out=report)
    conn.close()
    assert stats.inserted == len(STORED) + len(STRIPPED), report.getvalue()
    assert stats.kept == len(STRIPPED), report.getvalue()
    assert stats.skipped == len(REFUSED), report.getvalue()
    return path, report.getvalue()


@pytest.fixture
def hostile(hostile_database, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", database_url(hostile_database[0]))
    get_settings.cache_clear()
    yield hostile_database
    get_settings.cache_clear()


@pytest.fixture
def hostile_client(hostile):
    from fastapi.testclient import TestClient

    from app.main import create_app

    with TestClient(create_app(), follow_redirects=False) as test_client:
        yield test_client
