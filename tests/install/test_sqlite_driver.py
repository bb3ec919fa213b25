"""The SQLite driver: one per process, chosen by PAPERS_SQLITE, checked at start for what the catalogue needs."""

import os
import subprocess
import sys

import pytest

from app import sqlite_driver
from app.db import sqlite3
from app.settings import PROJECT_ROOT

pytestmark = pytest.mark.sqlite_only  # the SQLite driver's own checks


def python(code: str, **env) -> subprocess.CompletedProcess:
    environment = {**os.environ, **env}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                          cwd=PROJECT_ROOT, env=environment)


def test_the_sqlite_in_use_has_everything_the_catalogue_needs():
    conn = sqlite3.connect(":memory:")
    assert sqlite_driver.missing_features(conn) == []
    sqlite_driver.require()


def test_every_module_uses_the_one_chosen_driver():
    from app import db
    from app.engine import fts5
    from app.web import errors

    assert db.sqlite3 is fts5.sqlite3 is errors.sqlite3 is sqlite_driver.sqlite3


def test_stdlib_setting_runs_on_the_standard_library_sqlite3():
    result = python("from app.db import sqlite3; import sqlite3 as std; print(sqlite3 is std)", PAPERS_SQLITE="stdlib")
    assert result.stdout.strip() == "True", result.stderr


def test_an_unknown_driver_setting_is_refused_by_name():
    result = python("import app.db", PAPERS_SQLITE="postgres")
    assert result.returncode != 0 and "PAPERS_SQLITE must be one of auto, stdlib, pysqlite3, not 'postgres'" in result.stderr


def test_a_sqlite_without_fts5_is_named_with_what_is_missing():
    """SQLite refusing to build FTS5 tables (here: an authorizer) looks as a build without FTS5 would."""
    conn = sqlite3.connect(":memory:")

    def no_fts5(action, arg1, arg2, *_):
        return sqlite3.SQLITE_DENY if action == sqlite3.SQLITE_CREATE_VTABLE else sqlite3.SQLITE_OK

    conn.set_authorizer(no_fts5)
    missing = sqlite_driver.missing_features(conn)
    assert len(missing) == 2
    assert missing[0].startswith("the FTS5 full-text index") and "not authorized" in missing[0]
    assert missing[1].startswith("FTS5's vocabulary table")


def test_an_old_sqlite_is_named_with_the_version_needed():
    conn = sqlite3.connect(":memory:")
    missing = sqlite_driver.missing_features(conn, version=(3, 31, 1))
    assert missing == ["SQLite 3.38.0 or newer (this is 3.31.1)"]


def test_the_papers_command_says_what_the_sqlite_lacks_and_exits_3(monkeypatch, capsys):
    from app import cli

    monkeypatch.setattr(sqlite_driver, "MIN_VERSION", (99, 0, 0))
    assert cli.main(["db", "check"]) == cli.EXIT_DATABASE
    error = capsys.readouterr().err.strip()
    assert error.startswith(f"error: SQLite {sqlite3.sqlite_version} via ") and "SQLite 99.0.0 or newer" in error
    assert len(error.splitlines()) == 1


@pytest.mark.skipif(sys.platform != "linux" or os.uname().machine != "x86_64", reason="pysqlite3-binary: Linux x86_64")
def test_the_bundled_newer_sqlite_is_used_where_it_is_installed():
    result = python("from app.sqlite_driver import DRIVER; print(DRIVER)", PAPERS_SQLITE="auto")
    assert result.stdout.strip() == "pysqlite3", result.stderr
