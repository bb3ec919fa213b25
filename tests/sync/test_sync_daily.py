"""`papers sync daily`: the daily-papers feed, day by day, upvotes kept current."""

import io
import os
import subprocess
import sys
from datetime import date

import pytest
from replay import RECORDED, Reply

from app.sync import state as sync_state
from app.sync.daily import harvest
from app.sync.http import SyncError


def feed(replay):
    replay.on({"date": "2025-11-17"}, Reply("daily-2025-11-17.json"))
    replay.on({"date": "2025-11-18"}, Reply("daily-2025-11-18.json"))
    replay.on({"date": "2025-11-19"}, Reply("[]"))


def upvotes(conn):
    return dict(conn.execute("SELECT arxiv_id, upvotes FROM papers"))


def test_one_day_is_loaded_with_its_upvotes(conn, replay, client):
    feed(replay)
    stats, requests = harvest(conn, on=date(2025, 11, 17), client=client, out=io.StringIO())
    assert (stats.inserted, requests) == (2, 1)
    assert upvotes(conn) == {"2511.11111": 40, "2511.12222": 12}


def test_since_fetches_every_day_to_today_and_upvotes_move(conn, replay, client):
    feed(replay)
    out = io.StringIO()
    stats, requests = harvest(conn, since=date(2025, 11, 17), client=client, out=out, today=date(2025, 11, 19))
    assert [r["date"] for r in replay.requests] == ["2025-11-17", "2025-11-18", "2025-11-19"]
    assert (stats.inserted, stats.updated, stats.kept) == (3, 1, 1)
    assert upvotes(conn) == {"2511.11111": 87, "2511.12222": 12, "2511.13333": None}
    assert "daily 2025-11-18:2: kept, dropped upvotes 'lots'" in out.getvalue()
    assert sync_state.load(conn, "daily").harvested_until == "2025-11-19"


def test_without_dates_a_run_starts_at_the_last_day_fetched(conn, replay, client):
    feed(replay)
    sync_state.save(conn, sync_state.State("daily", harvested_until="2025-11-18"))
    harvest(conn, client=client, out=io.StringIO(), today=date(2025, 11, 19))
    assert [r["date"] for r in replay.requests] == ["2025-11-18", "2025-11-19"]


def test_papers_sync_from_the_command_line(tmp_path, replay):
    feed(replay)
    replay.on({"verb": "ListRecords", "metadataPrefix": "arXiv", "set": "cs"}, Reply("arxiv-page1.xml"))
    replay.on({"resumptionToken": "7391822|1001"},
              Reply("arxiv-503.html", 503, (("Retry-After", "1"),)), Reply("arxiv-page2.xml"))
    replay.on({"resumptionToken": "7391822|2001"}, Reply("arxiv-page3.xml"))
    env = {**os.environ, "DATA_DIR": str(tmp_path / "data"), "SYNC_PAUSE": "0", "ARXIV_OAI_URL": replay.url,
           "DAILY_PAPERS_URL": replay.url.replace("/oai", "/api/daily_papers")}
    env.pop("DATABASE_URL", None)

    def papers(*args):
        return subprocess.run([sys.executable, "-m", "app.cli", *args], capture_output=True, text=True,
                              env=env, timeout=120)

    arxiv = papers("sync", "arxiv", "--set", "cs")
    assert arxiv.returncode == 1, arxiv.stderr  # one record without a title was skipped
    assert "arxiv:cs: read 5, inserted 2, updated 1, unchanged 0, skipped 1, deleted 1" in arxiv.stderr
    assert "4 requests" in arxiv.stderr, replay.requests  # three pages, one of them asked twice (503)
    daily = papers("sync", "daily", "--date", "2025-11-17")
    assert daily.returncode == 0 and "daily: read 2, inserted 2" in daily.stderr, daily.stderr
    bad = papers("sync", "daily", "--date", "yesterday")
    assert bad.returncode == 2 and "not a date" in bad.stderr


def test_a_day_after_today_is_refused_and_never_recorded(conn, replay, client):
    feed(replay)
    for asked in ({"on": date(2025, 11, 20)}, {"since": date(2025, 11, 20)}):
        with pytest.raises(SyncError, match="after today"):
            harvest(conn, client=client, out=io.StringIO(), today=date(2025, 11, 19), **asked)
    assert replay.requests == [] and sync_state.load(conn, "daily").harvested_until is None


def test_a_cut_off_answer_commits_nothing_of_its_day(conn, replay, client):
    whole = (RECORDED / "daily-2025-11-18.json").read_text()
    replay.on({"date": "2025-11-17"}, Reply("daily-2025-11-17.json"))
    replay.on({"date": "2025-11-18"}, Reply(whole[: len(whole) // 2]))
    with pytest.raises(SyncError, match="not a whole JSON document"):
        harvest(conn, since=date(2025, 11, 17), client=client, out=io.StringIO(), today=date(2025, 11, 18))
    assert sync_state.load(conn, "daily").harvested_until == "2025-11-17"
    assert "2511.13333" not in upvotes(conn)  # a paper of the cut-off day: fetched again next run


@pytest.mark.sqlite_only  # another process's write lock, as SQLite has it
def test_a_sync_waits_for_another_writer_as_an_ingest_does(conn, replay, client):
    import threading

    from app.sqlite_driver import sqlite3  # the app's own SQLite: locks are per library within a process

    feed(replay)
    path = next(file for _seq, name, file in conn.execute("PRAGMA database_list") if name == "main")
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")
    threading.Timer(2.5, lambda: other.execute("COMMIT")).start()
    out = io.StringIO()
    stats, _ = harvest(conn, on=date(2025, 11, 17), client=client, out=out, wait=60)
    other.close()
    assert stats.inserted == 2 and "waiting for another writer to finish" in out.getvalue()
