"""A missing, read-only, damaged database or a full disk: the server and the command say so clearly
(/health, a 503 page, one `error:` line and exit status 3) instead of failing with a 500 or a traceback.

How each fault is made, without mounting anything:
- missing: a path with no file, or the file deleted under a running app;
- read-only: `chattr +i` when running as root (root ignores file modes; the immutable flag binds it too),
  `chmod 0444` otherwise; skipped, saying why, when neither is possible;
- full disk: SQLite's `PRAGMA max_page_count` on the ingest's connection, so writes fail with SQLITE_FULL
  exactly as on a full file system; /health's low-space report is driven by a patched `disk_usage`;
- damaged: seeded random bytes written over the middle of the file.
"""

import os
import random
import shutil
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app import cli, db, main
from app.web import health
from app.db import connect
from app.settings import get_settings

pytestmark = pytest.mark.sqlite_only  # damaged, missing and read-only SQLite files

PAPERS = [sys.executable, "-m", "app.cli"]
PAGES = ["/", "/?q=distillation", "/tags", "/api/papers?q=experts", "/api/tags", "/feed.atom", "/export.bib",
         "/sitemap.xml", "/papers/anything", "/health"]


def copy_database(source: Path, target: Path) -> Path:
    """A self-contained copy (SQLite's backup: no -wal or -shm files beside it)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    src, dst = connect(source, readonly=True), connect(target)
    src.backup(dst)
    src.close()
    dst.close()
    for suffix in ("-wal", "-shm"):
        Path(f"{target}{suffix}").unlink(missing_ok=True)
    return target


def damage(path: Path, seed: int = 6, size: int = 16 * 1024) -> None:
    """Garbage over the middle of the file, the way a bad disk or a stray write leaves it."""
    length = path.stat().st_size
    with open(path, "r+b") as handle:
        handle.seek(length // 2)
        handle.write(random.Random(seed).randbytes(size))


@contextmanager
def read_only(path: Path):
    """The file cannot be written by this process, even as root."""
    if os.geteuid() == 0:
        made = subprocess.run(["chattr", "+i", str(path)], capture_output=True, text=True)
        if made.returncode != 0:
            pytest.skip(f"running as root and `chattr +i` is refused here ({made.stderr.strip()}): "
                        "no way to make a file read-only for root without mounting")
        try:
            yield
        finally:
            subprocess.run(["chattr", "-i", str(path)], check=True)
    else:
        mode = path.stat().st_mode
        path.chmod(0o444)
        try:
            yield
        finally:
            path.chmod(mode)


@contextmanager
def app_on(path: Path):
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DATABASE_URL", f"sqlite:///{path}")
        get_settings.cache_clear()
        with TestClient(main.create_app(), raise_server_exceptions=False, follow_redirects=False) as client:
            yield client
    get_settings.cache_clear()


def run_papers(data_dir: Path, *args, timeout=120):
    env = {**os.environ, "DATA_DIR": str(data_dir)}
    env.pop("DATABASE_URL", None)
    return subprocess.run([*PAPERS, *args], capture_output=True, text=True, env=env, timeout=timeout)


def assert_one_clear_line(result, *words):
    assert result.returncode == cli.EXIT_DATABASE, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and all(w in errors[0] for w in words), result.stderr


# --- the server -------------------------------------------------------------------------

def test_missing_database_is_503_everywhere_with_words(tmp_path):
    with app_on(tmp_path / "absent" / "papers.db") as client:
        health = client.get("/health")
        assert health.status_code == 503 and health.json() == {"status": "error", "detail": db.MISSING}
        for url in PAGES:
            response = client.get(url)
            assert response.status_code == 503, url
            assert "file is missing" in response.text, url
    assert not (tmp_path / "absent").exists()  # reading never creates anything


def test_a_database_deleted_under_the_server_is_reported(seeded_database, tmp_path):
    path = copy_database(seeded_database, tmp_path / "papers.db")
    with app_on(path) as client:
        assert client.get("/health").json()["status"] == "ok"
        path.unlink()
        time.sleep(db.FILE_CHECK_SECONDS)
        health = client.get("/health")
        assert health.status_code == 503 and health.json()["detail"] == db.MISSING


def test_a_database_without_schema_is_503_saying_so(tmp_path):
    path = tmp_path / "papers.db"
    connect(path).close()
    with app_on(path) as client:
        health = client.get("/health")
        assert health.status_code == 503 and "no schema" in health.json()["detail"]
        response = client.get("/api/papers?q=x")
        assert response.status_code == 503 and "migrated" in response.json()["detail"]


def test_read_only_database_still_serves_and_health_says_degraded(seeded_database, tmp_path):
    path = copy_database(seeded_database, tmp_path / "papers.db")
    with read_only(path), app_on(path) as client:
        health = client.get("/health")
        assert health.status_code == 200
        assert health.json()["status"] == "degraded" and health.json()["writable"] is False
        assert "read-only" in health.json()["detail"]
        assert client.get("/api/papers", params={"q": "distillation"}).json()["total"] > 0


def test_nearly_full_disk_is_reported_by_health(seeded, monkeypatch):
    usage = shutil.disk_usage(seeded.parent)
    monkeypatch.setattr(health.shutil, "disk_usage", lambda _: usage._replace(free=health.LOW_DISK_BYTES - 1))
    with TestClient(main.create_app()) as client:
        body = client.get("/health").json()
    assert body["status"] == "degraded" and "disk almost full" in body["detail"]


def test_damaged_database_never_answers_500(seeded_database, tmp_path):
    path = copy_database(seeded_database, tmp_path / "papers.db")
    damage(path)
    with app_on(path) as client:
        for url in PAGES:
            response = client.get(url)
            assert response.status_code in (200, 404, 503), (url, response.status_code, response.text[:200])
            if response.status_code == 503:
                assert "damaged" in response.text or "cannot be read" in response.text, url


# --- the command ------------------------------------------------------------------------

def test_serve_refuses_a_damaged_database_at_start(seeded_database, tmp_path):
    path = copy_database(seeded_database, tmp_path / "data" / "papers.db")
    damage(path)
    started = time.monotonic()
    result = run_papers(tmp_path / "data", "serve", "--port", "1")  # never reached: the check comes first
    assert_one_clear_line(result, "is damaged", "quick check", str(path))
    assert time.monotonic() - started < 60


def test_serve_refuses_a_file_that_is_not_a_database(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "papers.db").write_bytes(b"these are not the bytes of a database\n" * 200)
    result = run_papers(tmp_path / "data", "serve", "--port", "1")
    assert_one_clear_line(result, "not a database")


def test_db_check_and_optimize_on_a_missing_database_create_nothing(tmp_path):
    for action in ("check", "optimize"):
        result = run_papers(tmp_path / "data", "db", action)
        assert_one_clear_line(result, "no database at")
    assert not (tmp_path / "data" / "papers.db").exists()


def test_db_check_reports_a_damaged_database(seeded_database, tmp_path):
    path = copy_database(seeded_database, tmp_path / "data" / "papers.db")
    damage(path)
    result = run_papers(tmp_path / "data", "db", "check")
    assert result.returncode == 1 and "Traceback" not in result.stderr and "error:" in result.stderr


def test_ingest_into_a_read_only_database_says_so(seeded_database, tmp_path):
    path = copy_database(seeded_database, tmp_path / "data" / "papers.db")
    source = tmp_path / "new.jsonl"
    source.write_text('{"title": "A new paper", "abstract": "Distillation."}\n')
    with read_only(path):
        result = run_papers(tmp_path / "data", "ingest", "--quiet", str(source))
    assert_one_clear_line(result, "is read-only", str(path))


def test_a_data_dir_that_cannot_exist_is_one_line(tmp_path):
    (tmp_path / "file").write_text("")
    result = run_papers(tmp_path / "file" / "data", "ingest", "--quiet", str(tmp_path / "file"))
    assert_one_clear_line(result, "cannot use", "Not a directory")


def _papers_file(path: Path, count: int) -> Path:
    import json

    with open(path, "w") as out:
        for n in range(count):
            out.write(json.dumps({"id": f"2502.{n:05d}", "title": f"Paper {n} on distillation of experts",
                                  "abstract": " ".join(f"term{(n * 13 + k) % 5000}" for k in range(120)),
                                  "authors": [f"Author {n % 97}"], "published": "2025-03-01"}) + "\n")
    return path


@pytest.mark.parametrize("empty", [False, True], ids=["batches", "one-transaction"])
def test_full_disk_stops_ingest_with_one_line_keeps_whole_batches_and_a_rerun_finishes(tmp_path, monkeypatch,
                                                                                          capsys, empty):
    data = tmp_path / "data"
    source = _papers_file(tmp_path / "papers.jsonl", 3_000)
    monkeypatch.setenv("DATA_DIR", str(data))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    get_settings.cache_clear()
    assert cli.main(["db", "upgrade"]) == 0
    before = 0
    if not empty:  # a catalogue with papers commits batch by batch; an empty one loads in one transaction
        (tmp_path / "first.jsonl").write_text(
            '{"id": "2412.00001", "title": "Graph colouring", "abstract": "On graphs."}\n')
        assert cli.main(["ingest", "--quiet", str(tmp_path / "first.jsonl")]) == 0
        before = 1
    empty_pages = connect(data / "papers.db").execute("PRAGMA page_count").fetchone()[0]

    def small_disk(path=None, **kwargs):
        conn = connect(path, **kwargs)
        conn.execute(f"PRAGMA max_page_count = {empty_pages + 400}")  # room for some batches, not all
        return conn

    monkeypatch.setattr(cli, "connect", small_disk)
    capsys.readouterr()
    status = cli.main(["ingest", "--quiet", "--batch-size", "250", str(source)])
    err = capsys.readouterr().err
    assert status == cli.EXIT_DATABASE and "Traceback" not in err
    assert [line for line in err.splitlines() if line.startswith("error: ")] == [
        f"error: the disk holding {data / 'papers.db'} is full: free some space, then run the same command again "
        "(batches committed before are kept)"]

    conn = connect(data / "papers.db")
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.execute("INSERT INTO papers_fts(papers_fts, rank) VALUES ('integrity-check', 1)")
    kept = conn.execute("SELECT count(*) FROM papers").fetchone()[0] - before
    if empty:
        assert kept == 0  # the one transaction was rolled back whole
    else:
        assert 0 < kept < 3_000 and kept % 250 == 0, kept

    monkeypatch.undo()  # space freed
    monkeypatch.setenv("DATA_DIR", str(data))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    get_settings.cache_clear()
    assert cli.main(["ingest", "--quiet", "--batch-size", "250", str(source)]) == 0
    assert f"inserted {3_000 - kept:,}, updated 0, unchanged {kept:,}" in capsys.readouterr().err
    assert conn.execute("SELECT count(*) FROM papers").fetchone()[0] == 3_000 + before
    conn.execute("INSERT INTO papers_fts(papers_fts, rank) VALUES ('integrity-check', 1)")
    conn.close()
    get_settings.cache_clear()
