"""Concurrent writers: a lock held by another writer is waited for with a progress line; one held
past the wait ends the run with exit status 3 and one line saying what is committed -- never a
traceback, never a batch lost in silence."""

import io
import json
import os
import subprocess
import sys
import threading
import time

import pytest

from app.db import connect
from app.ingest import ingest
from app.ingest.lock import WriterBusy


def write_records(path, count: int) -> str:
    path.write_text("".join(json.dumps({"id": f"2601.{n:05d}", "title": f"Paper {n} on experts",
                                        "abstract": f"Topic {n} with a mixture of experts."}) + "\n"
                            for n in range(1, count + 1)))
    return str(path)


class OtherWriter:
    """Another process's write transaction, held from a thread of this one (its own connection)."""

    def __init__(self, database):
        self.conn = connect(database)
        self.held = threading.Event()
        self.release = threading.Event()

    def hold(self, seconds: float | None = None, when=lambda: True) -> threading.Thread:
        def run():
            while not when():
                time.sleep(0.01)
            self.conn.execute("BEGIN IMMEDIATE")
            self.held.set()
            self.release.wait(seconds)
            self.conn.execute("COMMIT")
        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        assert self.held.wait(30)
        return thread

    def close(self, thread: threading.Thread) -> None:
        self.release.set()
        thread.join(30)
        self.conn.close()


def papers(database) -> int:
    reader = connect(database, readonly=True)
    try:
        return reader.execute("SELECT count(*) FROM papers").fetchone()[0]
    finally:
        reader.close()


def test_a_lock_released_within_the_wait_is_waited_for_with_a_progress_line(database, conn, tmp_path):
    other = OtherWriter(database)
    thread = other.hold(seconds=2.5)
    out = io.StringIO()
    try:
        stats, status = ingest(conn, [write_records(tmp_path / "a.jsonl", 5)], quiet=True, out=out, wait=60)
    finally:
        other.close(thread)
    assert (stats.inserted, status) == (5, 0)
    assert "waiting for another writer to finish (database locked" in out.getvalue()


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs a named pipe to pace the input")
def test_a_lock_held_past_the_wait_stops_the_run_saying_what_is_committed(database, conn, tmp_path):
    records = [json.dumps({"id": f"2601.{n:05d}", "title": f"Paper {n} on experts",
                           "abstract": f"Topic {n} with a mixture of experts."}) + "\n" for n in range(1, 11)]
    # A catalogue that holds a paper commits batch by batch (an empty one loads in one transaction).
    first = tmp_path / "first.jsonl"
    first.write_text(json.dumps({"id": "2512.00001", "title": "An earlier paper on experts",
                                 "abstract": "Experts, mixed."}) + "\n")
    stats, status = ingest(conn, [str(first)], quiet=True, out=io.StringIO())
    assert (stats.inserted, status) == (1, 0)
    path = tmp_path / "paced.jsonl"
    os.mkfifo(path)
    other = OtherWriter(database)
    holding: list[threading.Thread] = []

    def feed():
        # Three records, committed one batch each; then another writer takes the lock, then the rest.
        with open(path, "w") as pipe:
            pipe.writelines(records[:3])
            pipe.flush()
            deadline = time.monotonic() + 60
            while papers(database) < 1 + 3 and time.monotonic() < deadline:
                time.sleep(0.02)
            holding.append(other.hold())
            pipe.writelines(records[3:])

    feeder = threading.Thread(target=feed, daemon=True)
    feeder.start()
    try:
        with pytest.raises(WriterBusy) as raised:
            ingest(conn, [str(path)], fmt="jsonl", quiet=True, out=io.StringIO(), batch_size=1, wait=1)
    finally:
        feeder.join(60)
        other.close(holding[0])
    assert papers(database) == 1 + 3
    assert f"{path}: the database was locked by another writer" in str(raised.value)
    # What it says is committed is exactly what the database holds: no batch lost in silence.
    assert "records up to line 3 are committed: run the same command again" in str(raised.value)
    # Running the same command again (on the whole input) finishes the work.
    whole = tmp_path / "whole.jsonl"
    whole.write_text("".join(records))
    stats, status = ingest(conn, [str(whole)], quiet=True, out=io.StringIO())
    assert (stats.inserted, stats.unchanged, status) == (7, 3, 0)


def test_the_command_ends_with_exit_3_and_one_line_never_a_traceback(database, tmp_path, backend):
    path = write_records(tmp_path / "a.jsonl", 3)
    other = OtherWriter(database)
    thread = other.hold()
    try:
        done = subprocess.run([sys.executable, "-m", "app.cli", "ingest", "--wait", "1", "-q", path],
                              capture_output=True, text=True, timeout=120,
                              env={**os.environ, **({"DATABASE_URL": database} if backend == "postgres"
                                                     else {"DATA_DIR": str(database.parent)})})
    finally:
        other.close(thread)
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 3, done.stderr
    assert "Traceback" not in done.stderr
    assert len(lines) == 1 and lines[0].startswith("error: the database was locked by another writer")
    assert "nothing was loaded: run the same command again" in lines[0]


def test_exit_status_3_is_documented_in_the_help(capsys):
    from app.cli import build_parser

    with pytest.raises(SystemExit):
        build_parser().parse_args(["ingest", "--help"])
    shown = capsys.readouterr().out
    assert "--wait SECONDS" in shown
    for status in ("0  every record", "1  some records", "2  an input", "3  the database cannot be used"):
        assert status in shown
    assert "locked by another writer" in shown
