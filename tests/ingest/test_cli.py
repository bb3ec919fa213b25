"""The `papers` command as a user runs it: exit codes, messages, interruption and recovery."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from app.db import connect

PAPERS = [sys.executable, "-m", "app.cli"]


def papers(tmp_path, *args, input=None):
    env = {**os.environ, "DATA_DIR": str(tmp_path / "data")}
    env.pop("DATABASE_URL", None)
    return subprocess.run([*PAPERS, *args], capture_output=True, text=True, env=env, input=input, timeout=300)


def test_ingest_reports_a_summary_and_exits_zero(tmp_path):
    path = tmp_path / "a.jsonl"
    path.write_text(json.dumps({"title": "T", "abstract": "A."}) + "\n")
    result = papers(tmp_path, "ingest", str(path))
    assert result.returncode == 0, result.stderr
    assert "read 1, inserted 1, updated 0, unchanged 0, skipped 0" in result.stderr


def test_missing_file_is_one_line_not_a_traceback(tmp_path):
    result = papers(tmp_path, "ingest", str(tmp_path / "nope.jsonl"))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert f"error: {tmp_path / 'nope.jsonl'}: no such file" in result.stderr


def test_skipped_records_exit_one(tmp_path):
    path = tmp_path / "a.jsonl"
    path.write_text('{"title": "T", "abstract": "A."}\n{"title": "no abstract"}\n')
    result = papers(tmp_path, "ingest", str(path))
    assert result.returncode == 1
    assert "a.jsonl:2: skipped: missing abstract" in result.stderr


def test_stdin_is_read_with_dash(tmp_path):
    result = papers(tmp_path, "ingest", "--format", "jsonl", "-",
                    input='{"title": "From stdin", "abstract": "A."}\n')
    assert result.returncode == 0 and "inserted 1" in result.stderr


def test_db_check_passes_on_a_fresh_catalogue(tmp_path):
    papers(tmp_path, "db", "upgrade")
    result = papers(tmp_path, "db", "check")
    assert result.returncode == 0 and "ok" in result.stderr


def _corpus_like(path, count):
    with open(path, "w") as out:
        for n in range(count):
            out.write(json.dumps({
                "id": f"2501.{n:05d}", "title": f"Study {n} of distillation and experts",
                "abstract": " ".join(f"word{(n * 7 + k) % 997} knowledge distillation" for k in range(60)),
                "authors": [f"Author {n % 300}", f"Author {(n + 1) % 300}"],
                "published": "2025-02-01", "categories": ["cs.LG"]}) + "\n")


def _wait_for_papers(path, at_least, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if connect(path).execute("SELECT count(*) FROM papers").fetchone()[0] >= at_least:
                return
        except Exception:  # noqa: BLE001 - the file may not be ready yet
            pass
        time.sleep(0.02)
    raise AssertionError(f"ingest never reached {at_least} papers")


@pytest.mark.sqlite_only  # a killed writer and SQLite's journal (PostgreSQL rolls back a lost session)
@pytest.mark.parametrize("after", [1, 2_000, 6_000])
def test_killed_ingest_leaves_a_sound_database_and_rerun_completes(tmp_path, after):
    source = tmp_path / "big.jsonl"
    _corpus_like(source, 12_000)
    env = {**os.environ, "DATA_DIR": str(tmp_path / "data")}
    # A catalogue that is not empty: the load commits batch after batch (into an empty one it
    # is a single transaction: see the next test).
    first = tmp_path / "first.jsonl"
    first.write_text(json.dumps({"id": "2412.00001", "title": "Graph colouring", "abstract": "On graphs."}) + "\n")
    assert papers(tmp_path, "ingest", "--quiet", str(first)).returncode == 0
    process = subprocess.Popen([*PAPERS, "ingest", "--quiet", "--batch-size", "2000", str(source)], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _wait_for_papers(tmp_path / "data" / "papers.db", 1 + after)  # killed mid-run, not before or after
    process.send_signal(signal.SIGKILL)
    process.wait()
    db = connect(tmp_path / "data" / "papers.db")
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    db.execute("INSERT INTO papers_fts(papers_fts, rank) VALUES ('integrity-check', 1)")
    loaded = db.execute("SELECT count(*) FROM papers").fetchone()[0] - 1
    assert loaded % 2000 == 0 and 0 < loaded < 12_000  # whole batches only
    result = papers(tmp_path, "ingest", "--quiet", str(source))
    assert result.returncode == 0, result.stderr
    assert f"inserted {12_000 - loaded:,}" in result.stderr
    assert db.execute("SELECT count(*) FROM papers").fetchone()[0] == 12_001
    tagged = db.execute("SELECT count(DISTINCT paper_id) FROM paper_tags pt JOIN tags t ON t.id = pt.tag_id"
                        " WHERE t.slug = 'distillation'").fetchone()[0]
    assert tagged == 12_000


@pytest.mark.sqlite_only  # the same, and SQLite's triggers
def test_killed_load_into_an_empty_catalogue_leaves_it_empty_or_whole(tmp_path):
    """Into an empty catalogue the whole load is one transaction (the index built and the
    topics tagged once, at its end): a kill at any time leaves nothing or everything."""
    source = tmp_path / "big.jsonl"
    _corpus_like(source, 12_000)
    env = {**os.environ, "DATA_DIR": str(tmp_path / "data")}
    papers(tmp_path, "db", "upgrade")
    for delay in (1.0, 3.0):
        process = subprocess.Popen([*PAPERS, "ingest", "--quiet", "--batch-size", "2000", str(source)], env=env,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(delay)
        process.send_signal(signal.SIGKILL)
        process.wait()
        db = connect(tmp_path / "data" / "papers.db")
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        db.execute("INSERT INTO papers_fts(papers_fts, rank) VALUES ('integrity-check', 1)")
        loaded = db.execute("SELECT count(*) FROM papers").fetchone()[0]
        assert loaded in (0, 12_000)
        assert db.execute("SELECT count(*) FROM papers_fts_docsize").fetchone()[0] == loaded
        if loaded == 0:
            assert db.execute("SELECT count(*) FROM paper_authors").fetchone()[0] == 0
            assert db.execute("SELECT count(*) FROM paper_tags").fetchone()[0] == 0
            triggers = db.execute("SELECT count(*) FROM sqlite_master WHERE type = 'trigger'"
                                  " AND name LIKE 'papers_fts_%'").fetchone()[0]
            assert triggers == 3  # dropped only inside the transaction that died
        db.close()
    result = papers(tmp_path, "ingest", "--quiet", str(source))
    assert result.returncode == 0, result.stderr
    db = connect(tmp_path / "data" / "papers.db")
    assert db.execute("SELECT count(*) FROM papers").fetchone()[0] == 12_000
    assert db.execute("SELECT count(*) FROM papers_fts_docsize").fetchone()[0] == 12_000
    tagged = db.execute("SELECT count(DISTINCT paper_id) FROM paper_tags pt JOIN tags t ON t.id = pt.tag_id"
                        " WHERE t.slug = 'distillation'").fetchone()[0]
    assert tagged == 12_000
    db.execute("INSERT INTO papers_fts(papers_fts, rank) VALUES ('integrity-check', 1)")
