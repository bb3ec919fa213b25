"""SIGKILL an ingest of real corpus papers at random points: after each kill the database passes SQLite's
integrity check and FTS5's integrity-check, holds whole batches only, and re-running the same command ends
in exactly the catalogue a clean run builds (same papers, authors, tags, aliases, counts).

The default suite kills twice on a 3,000-paper slice; `--run-slow` kills six times on 30,000 papers with
several batch sizes. Both need the shared corpus and say so when it is absent.
"""

import gzip
import hashlib
import itertools
import os
import random
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from app.db import connect
from app.settings import Settings

pytestmark = pytest.mark.sqlite_only  # a killed writer and SQLite's journal

CORPUS = Settings().papers_corpus  # PAPERS_CORPUS
PAPERS = [sys.executable, "-m", "app.cli"]
SUMMARY = re.compile(r"read ([\d,]+), inserted ([\d,]+), updated ([\d,]+), unchanged ([\d,]+), skipped ([\d,]+)")

needs_corpus = pytest.mark.corpus  # skipped, with the reason, when the corpus is absent (conftest.py)


def corpus_slice(path: Path, count: int, offset: int = 0) -> Path:
    with gzip.open(CORPUS, "rt", encoding="utf-8") as source, open(path, "w", encoding="utf-8") as out:
        out.writelines(itertools.islice(source, offset, offset + count))
    return path


def run(data: Path, *args, timeout=600):
    env = {**os.environ, "DATA_DIR": str(data)}
    env.pop("DATABASE_URL", None)
    return subprocess.run([*PAPERS, *args], capture_output=True, text=True, env=env, timeout=timeout)


def counts(stderr: str) -> dict[str, int]:
    found = SUMMARY.findall(stderr)
    assert found, stderr
    names = ("read", "inserted", "updated", "unchanged", "skipped")
    return {name: int(value.replace(",", "")) for name, value in zip(names, found[-1], strict=True)}


def catalogue_digest(path: Path) -> dict[str, object]:
    """Everything a reader can see, independent of row ids and timestamps."""
    conn = connect(path)
    queries = {
        "papers": "SELECT key, arxiv_id, title, abstract, authors, categories, published, url FROM papers ORDER BY key",
        "authors": "SELECT p.key, pa.position, a.name, a.slug FROM paper_authors pa JOIN papers p ON p.id = pa.paper_id"
                   " JOIN authors a ON a.id = pa.author_id ORDER BY 1, 2",
        "tags": "SELECT p.key, t.slug FROM paper_tags pt JOIN papers p ON p.id = pt.paper_id"
                " JOIN tags t ON t.id = pt.tag_id ORDER BY 1, 2",
        "aliases": "SELECT a.key, p.key FROM aliases a JOIN papers p ON p.id = a.paper_id ORDER BY 1",
    }
    digest: dict[str, object] = {}
    for name, sql in queries.items():
        rows = conn.execute(sql).fetchall()
        digest[name] = (len(rows), hashlib.sha256(repr([tuple(r) for r in rows]).encode()).hexdigest())
    digest["index"] = conn.execute("SELECT count(*) FROM papers_fts_docsize").fetchone()[0]
    conn.close()
    return digest


def assert_sound(path: Path) -> int:
    """Integrity, FTS consistency, every paper indexed; returns the number of papers."""
    conn = connect(path)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        conn.execute("INSERT INTO papers_fts(papers_fts, rank) VALUES ('integrity-check', 1)")
        papers = conn.execute("SELECT count(*) FROM papers").fetchone()[0]
        assert conn.execute("SELECT count(*) FROM papers_fts_docsize").fetchone()[0] == papers
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        return papers
    finally:
        conn.close()


def papers_now(path: Path) -> int:
    try:
        conn = connect(path, readonly=True)
        try:
            return conn.execute("SELECT count(*) FROM papers").fetchone()[0]
        finally:
            conn.close()
    except Exception:  # noqa: BLE001 - not created yet, or mid-migration
        return 0


def kill_at_random_point(data: Path, source: Path, batch: int, rng: random.Random, clean_seconds: float,
                         total: int) -> tuple[str, int]:
    """Start an ingest, SIGKILL it after a random number of committed papers or a random time."""
    env = {**os.environ, "DATA_DIR": str(data)}
    env.pop("DATABASE_URL", None)
    process = subprocess.Popen([*PAPERS, "ingest", "--quiet", "--batch-size", str(batch), str(source)], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        if rng.random() < 0.5:
            target = rng.randrange(1, total)
            how = f"after {target:,} papers were visible"
            deadline = time.monotonic() + 300
            while papers_now(data / "papers.db") < target and process.poll() is None:
                assert time.monotonic() < deadline, "the ingest stalled"
                time.sleep(0.01)
        else:
            delay = rng.uniform(0.05, clean_seconds)
            how = f"after {delay:.2f}s"
            time.sleep(delay)
        process.send_signal(signal.SIGKILL)
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()
    return how, process.returncode


def interrupted_runs(tmp_path: Path, papers: int, kills: int, batches: list[int], seed: int) -> None:
    source = corpus_slice(tmp_path / "slice.jsonl", papers)
    started = time.monotonic()
    clean = run(tmp_path / "clean", "ingest", "--quiet", "--batch-size", str(batches[0]), str(source))
    clean_seconds = time.monotonic() - started
    assert clean.returncode in (0, 1), clean.stderr
    reference, clean_counts = catalogue_digest(tmp_path / "clean" / "papers.db"), counts(clean.stderr)
    rng = random.Random(seed)
    for attempt in range(kills):
        data, batch = tmp_path / f"killed-{attempt}", rng.choice(batches)
        how, code = kill_at_random_point(data, source, batch, rng, clean_seconds, clean_counts["inserted"])
        where = f"kill {attempt} ({how}, batches of {batch:,}, exit {code})"
        kept = assert_sound(data / "papers.db") if (data / "papers.db").exists() else 0
        if code == -signal.SIGKILL and clean_counts["inserted"] == clean_counts["read"]:  # one paper per record
            assert kept % batch == 0 or kept == clean_counts["inserted"], f"{where}: {kept:,} papers is not whole batches"
        rerun = run(data, "ingest", "--quiet", "--batch-size", str(batch), str(source))
        assert rerun.returncode == clean.returncode, f"{where}: {rerun.stderr}"
        again = counts(rerun.stderr)
        assert again["read"] == clean_counts["read"] and again["skipped"] == clean_counts["skipped"], where
        assert again["inserted"] == clean_counts["inserted"] - kept, f"{where}: {again} after {kept:,} kept"
        assert assert_sound(data / "papers.db") == clean_counts["inserted"], where
        assert catalogue_digest(data / "papers.db") == reference, f"{where}: the catalogue differs from a clean run"


@needs_corpus
def test_killed_corpus_ingest_recovers_to_the_clean_catalogue(tmp_path):
    interrupted_runs(tmp_path, papers=3_000, kills=2, batches=[500], seed=2026)


@needs_corpus
@pytest.mark.slow
def test_killed_corpus_ingest_recovers_to_the_clean_catalogue_long(tmp_path):
    interrupted_runs(tmp_path, papers=30_000, kills=6, batches=[2_000, 5_000, 10_000], seed=6)
