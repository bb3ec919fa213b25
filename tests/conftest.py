"""Shared fixtures: a migrated database per test, the seed catalogue, an ASGI client."""

import pytest

from app import migrate
from app.db import connect
from app.settings import SEED_FILE, Settings, get_settings

CORPUS = Settings().papers_corpus
CORPUS_HINT = f"set PAPERS_CORPUS to its path (nothing at {CORPUS})"
CORPUS_REASON = f"needs the arXiv corpus: {CORPUS_HINT}"


def pytest_addoption(parser):
    parser.addoption("--run-slow", action="store_true", help="run the long variants (release checks)")


def pytest_collection_modifyitems(config, items):
    slow = None if config.getoption("--run-slow") else pytest.mark.skip(reason="long variant: pass --run-slow")
    corpus = None if CORPUS.exists() else pytest.mark.skip(reason=CORPUS_REASON)
    for item in items:
        if slow and "slow" in item.keywords:
            item.add_marker(slow)
        elif corpus and "corpus" in item.keywords:
            item.add_marker(corpus)


def pytest_terminal_summary(terminalreporter):
    """One line saying why the corpus tests did not run, and how to run them."""
    skipped = [report for report in terminalreporter.stats.get("skipped", [])
               if isinstance(report.longrepr, tuple) and CORPUS_REASON in str(report.longrepr[2])]
    if skipped:
        terminalreporter.write_line(f"{len(skipped)} tests skipped for want of the arXiv corpus: {CORPUS_HINT}",
                                    yellow=True)


@pytest.fixture
def database(tmp_path, monkeypatch):
    """An empty, migrated database that the app's settings point at."""
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    get_settings.cache_clear()
    migrate.upgrade()
    yield get_settings().database_path
    get_settings.cache_clear()


@pytest.fixture
def conn(database):
    connection = connect(database)
    yield connection
    connection.close()


@pytest.fixture(scope="session")
def seeded_database(tmp_path_factory):
    """One database with the 93 seed papers, shared read-only by a session's tests."""
    from app.ingest import ingest

    path = tmp_path_factory.mktemp("seeded") / "papers.db"
    url = f"sqlite:///{path}"
    migrate.upgrade(url)
    connection = connect(path)
    stats, status = ingest(connection, [str(SEED_FILE)], fmt="seed", source="seed", quiet=True)
    assert status == 0 and stats.inserted == 93
    connection.close()
    return path


@pytest.fixture
def seeded(seeded_database, monkeypatch):
    """Settings pointed at the shared seed database."""
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{seeded_database}")
    get_settings.cache_clear()
    yield seeded_database
    get_settings.cache_clear()


@pytest.fixture
def client(seeded):
    from fastapi.testclient import TestClient

    from app.main import create_app

    with TestClient(create_app()) as test_client:
        yield test_client


@pytest.fixture(scope="session")
def rich_database(tmp_path_factory):
    """The seed papers with authors, arXiv ids, categories and dates up to today (see rich_catalogue.py)."""
    import rich_catalogue

    return rich_catalogue.build(tmp_path_factory.mktemp("rich"))


@pytest.fixture
def rich_client(rich_database, monkeypatch):
    from fastapi.testclient import TestClient

    from app.main import create_app

    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{rich_database}")
    get_settings.cache_clear()
    with TestClient(create_app()) as test_client:
        yield test_client
    get_settings.cache_clear()


@pytest.fixture(scope="session")
def trending_database(tmp_path_factory):
    """The rich catalogue with daily-papers upvotes on a few papers (rich_catalogue.UPVOTES)."""
    import rich_catalogue

    return rich_catalogue.build(tmp_path_factory.mktemp("trending"), upvotes=True)


@pytest.fixture
def trending_client(trending_database, monkeypatch):
    from fastapi.testclient import TestClient

    from app.main import create_app

    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{trending_database}")
    get_settings.cache_clear()
    with TestClient(create_app()) as test_client:
        yield test_client
    get_settings.cache_clear()
