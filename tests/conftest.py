"""Shared fixtures: a migrated database per test, the seed catalogue, an ASGI client.

The suite runs on SQLite (the default) or on PostgreSQL: `pytest --backend=postgres`
(or PAPERS_TEST_BACKEND=postgres) starts a throwaway cluster (tests/pgcluster.py) for
the session, and `database`, `seeded_database` and their kin are then PostgreSQL
databases, each new one a copy of a migrated template. Tests of SQLite's own
machinery (the database file, PRAGMAs, FTS5 tables) are marked `sqlite_only`; those
of PostgreSQL's, `postgres`.
"""

import itertools
import os
import shutil

import pytest
from backends import database_url

from app import migrate
from app.db import close_pools, connect
from app.settings import SEED_FILE, Settings, get_settings

CORPUS = Settings().papers_corpus
CORPUS_HINT = f"set PAPERS_CORPUS to its path (nothing at {CORPUS})"
CORPUS_REASON = f"needs the arXiv corpus: {CORPUS_HINT}"
BACKENDS = ("sqlite", "postgres")


def pytest_addoption(parser):
    parser.addoption("--run-slow", action="store_true", help="run the long variants (release checks)")
    parser.addoption("--backend", choices=BACKENDS, default=os.environ.get("PAPERS_TEST_BACKEND") or "sqlite",
                     help="database the suite runs on (postgres: a throwaway local cluster)")


def pytest_collection_modifyitems(config, items):
    slow = None if config.getoption("--run-slow") else pytest.mark.skip(reason="long variant: pass --run-slow")
    corpus = None if CORPUS.exists() else pytest.mark.skip(reason=CORPUS_REASON)
    backend = config.getoption("--backend")
    other = pytest.mark.skip(reason="SQLite's own machinery: not part of the PostgreSQL run"
                             if backend == "postgres" else "PostgreSQL's own machinery: run with --backend=postgres")
    for item in items:
        if ("sqlite_only" if backend == "postgres" else "postgres") in item.keywords:
            item.add_marker(other)
            continue
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


def pytest_report_header(config):
    return f"database backend: {config.getoption('--backend')}"


@pytest.fixture(scope="session")
def backend(request) -> str:
    return request.config.getoption("--backend")


@pytest.fixture(scope="session")
def pg_cluster():
    """A PostgreSQL cluster for the session (started on first use, removed at the end)."""
    from pgcluster import Cluster, available

    problem = available()
    if problem:
        pytest.fail(f"PostgreSQL tests need a server: {problem}")
    with Cluster.started() as cluster:
        yield cluster
        close_pools()


_names = itertools.count(1)


@pytest.fixture(scope="session")
def pg_template(pg_cluster) -> str:
    """A migrated database that each test's database is copied from (faster than migrating)."""
    url = pg_cluster.create_database("papers_template")
    migrate.upgrade(url)
    return "papers_template"


def new_pg_database(cluster, template: str) -> str:
    import psycopg

    name = f"papers_{os.getpid()}_{next(_names)}"
    with psycopg.connect(cluster.dsn(), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    return cluster.url(name)


def drop_pg_database(cluster, url: str) -> None:
    close_pools()
    cluster.drop_database(url.rsplit("/", 1)[1])


@pytest.fixture(scope="session")
def make_database(tmp_path_factory, backend, request):
    """A function making a new empty migrated database: an SQLite path, or a PostgreSQL URL."""
    def make(name: str = "db"):
        if backend == "postgres":
            return new_pg_database(request.getfixturevalue("pg_cluster"), request.getfixturevalue("pg_template"))
        path = tmp_path_factory.mktemp(name) / "papers.db"
        migrate.upgrade(f"sqlite:///{path}")
        return path
    return make


@pytest.fixture
def new_database(make_database, backend, request):
    """A function making a new empty migrated database for this test (an SQLite path or a
    PostgreSQL URL); the PostgreSQL ones are dropped after the test."""
    cluster = request.getfixturevalue("pg_cluster") if backend == "postgres" else None
    made = []

    def make(name: str = "db"):
        where = make_database(name)
        made.append(where)
        return where

    yield make
    if cluster is not None:
        for url in made:
            drop_pg_database(cluster, url)


@pytest.fixture
def copy_database(tmp_path_factory, backend, request):
    """A function copying a database (an SQLite path or a PostgreSQL URL) to a new one the
    test may change; the PostgreSQL copies are dropped after the test."""
    cluster = request.getfixturevalue("pg_cluster") if backend == "postgres" else None
    made = []

    def copy(where):
        if cluster is not None:
            close_pools()  # a template database must have no other session
            url = new_pg_database(cluster, str(where).rsplit("/", 1)[1])
            made.append(url)
            return url
        conn = connect(where)
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # the whole database in the one file
        conn.close()
        path = tmp_path_factory.mktemp("copy") / "papers.db"
        shutil.copy(where, path)
        return path

    yield copy
    for url in made:
        drop_pg_database(cluster, url)


@pytest.fixture
def database(tmp_path, monkeypatch, backend, request):
    """An empty, migrated database that the app's settings point at (its path, or its URL)."""
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("READ_DATABASE_URL", raising=False)
    if backend == "postgres":
        cluster = request.getfixturevalue("pg_cluster")
        url = new_pg_database(cluster, request.getfixturevalue("pg_template"))
        monkeypatch.setenv("DATABASE_URL", url)
        get_settings.cache_clear()
        yield url
        get_settings.cache_clear()
        drop_pg_database(cluster, url)
        return
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
def seeded_database(make_database):
    """One database with the 93 seed papers, shared read-only by a session's tests."""
    from app.ingest import ingest

    path = make_database("seeded")
    connection = connect(path)
    stats, status = ingest(connection, [str(SEED_FILE)], fmt="seed", source="seed", quiet=True)
    assert status == 0 and stats.inserted == 93
    connection.close()
    return path


@pytest.fixture
def seeded(seeded_database, monkeypatch):
    """Settings pointed at the shared seed database."""
    monkeypatch.setenv("DATABASE_URL", database_url(seeded_database))
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
def rich_database(tmp_path_factory, make_database, backend):
    """The seed papers with authors, arXiv ids, categories and dates up to today (see rich_catalogue.py)."""
    import rich_catalogue

    return rich_catalogue.build(tmp_path_factory.mktemp("rich"),
                                database=make_database("rich") if backend == "postgres" else None)


@pytest.fixture
def rich_client(rich_database, monkeypatch):
    from fastapi.testclient import TestClient

    from app.main import create_app

    monkeypatch.setenv("DATABASE_URL", database_url(rich_database))
    get_settings.cache_clear()
    with TestClient(create_app()) as test_client:
        yield test_client
    get_settings.cache_clear()


@pytest.fixture(scope="session")
def trending_database(tmp_path_factory, make_database, backend):
    """The rich catalogue with daily-papers upvotes on a few papers (rich_catalogue.UPVOTES)."""
    import rich_catalogue

    return rich_catalogue.build(tmp_path_factory.mktemp("trending"), upvotes=True,
                                database=make_database("trending") if backend == "postgres" else None)


@pytest.fixture
def trending_client(trending_database, monkeypatch):
    from fastapi.testclient import TestClient

    from app.main import create_app

    monkeypatch.setenv("DATABASE_URL", database_url(trending_database))
    get_settings.cache_clear()
    with TestClient(create_app()) as test_client:
        yield test_client
    get_settings.cache_clear()
