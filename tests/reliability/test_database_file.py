"""The server follows its database file: a file moved over it (a new inode) is served at once, with
caches of the old one gone; a deleted file makes every page and the API answer 503 in /health's words;
a write-ahead log the replaced file left behind is refused rather than read as the new file's."""

import os
import time
from pathlib import Path

import pytest

from app import db
from app.db import connect
from app.ingest import ingest
from tests.reliability.live import Client, live_server
from tests.reliability.test_degradation import app_on, copy_database

pytestmark = pytest.mark.sqlite_only  # the server following its SQLite file

NEW_PAPER = ('{"title": "Zebrafinch song learning with spiking recurrent networks", '
             '"abstract": "Zebrafinch juveniles learn songs; a zebrafinch tutor model.", '
             '"authors": ["Ada Songbird"], "published": "2026-01-05"}\n')
def newer_copy(seeded_database: Path, target: Path, tmp_path: Path) -> Path:
    """The seed catalogue plus one paper, closed cleanly (no log beside it), ready to be moved in."""
    copy_database(seeded_database, target)
    source = tmp_path / "new-paper.jsonl"
    source.write_text(NEW_PAPER)
    conn = connect(target)
    stats, status = ingest(conn, [str(source)], fmt="jsonl", source="test", quiet=True)
    conn.close()
    assert status == 0 and stats.inserted == 1
    assert not Path(f"{target}-wal").exists()
    return target


def wait_for_the_file_check():
    time.sleep(db.FILE_CHECK_SECONDS * 2)


def catalogue_urls(client) -> list[str]:
    """Every page kind, feed and API route that reads the catalogue (robots.txt, opensearch.xml,
    /docs and /openapi.json describe the site and stay up), with real keys and slugs."""
    paper = client.get("/api/papers", params={"q": "zebrafinch"}).json()["results"][0]
    key, tag = paper["id"], client.get("/api/papers", params={"q": "distillation"}).json()["results"][0]["tags"][0]
    author_slug = client.get(paper["url"]).text.split('href="/authors/', 1)[1].split('"', 1)[0]
    return ["/", "/?q=distillation", "/?q=distilation", "/?q=experts&sort=newest&page=2", "/tags",
            f"/tags/{tag['slug']}", f"/authors/{author_slug}", paper["url"], f"/related/{key}",
            "/feed.atom?q=experts", "/export.bib?q=experts", "/sitemap.xml", "/sitemaps/pages.xml",
            "/sitemaps/papers-1.xml", "/facets/topic", "/new", f"/new/{tag['slug']}", "/new.atom",
            f"/list?ids={key}", f"/list.bib?ids={key}", f"/list.atom?ids={key}",
            "/api/papers", "/api/papers?q=experts", f"/api/papers/{key}", "/api/tags"]


def test_a_file_moved_over_the_database_is_served_at_once(seeded_database, tmp_path):
    path = copy_database(seeded_database, tmp_path / "papers.db")
    with app_on(path) as client:
        before = client.get("/api/papers", params={"q": "zebrafinch"}).json()
        assert before["total"] == 0
        assert client.get("/health").json()["papers"] == 93
        os.replace(newer_copy(seeded_database, tmp_path / "new.db", tmp_path), path)
        wait_for_the_file_check()
        for _ in range(20):  # every worker thread, not one of them
            found = client.get("/api/papers", params={"q": "zebrafinch"}).json()
            assert found["total"] == 1 and found["results"][0]["title"].startswith("Zebrafinch")
        assert client.get("/health").json()["papers"] == 94
        assert client.get(found["results"][0]["url"]).status_code == 200
        assert "Zebrafinch" in client.get("/new").text


def test_caches_of_the_replaced_file_are_not_used(seeded_database, tmp_path):
    """Spelling is kept per file: a word only the new file has is a correction at once, although the
    catalogue grew by one paper (a growth too small to rebuild the vocabulary of the same file)."""
    path = copy_database(seeded_database, tmp_path / "papers.db")
    with app_on(path) as client:
        assert client.get("/api/papers", params={"q": "zebrafinh"}).json()["suggestion"] is None
        os.replace(newer_copy(seeded_database, tmp_path / "new.db", tmp_path), path)
        wait_for_the_file_check()
        after = client.get("/api/papers", params={"q": "zebrafinh"}).json()
        assert "zebrafinch" in ((after["suggestion"] or "") + (after["corrected_query"] or ""))
        assert client.get("/api/tags").status_code == 200


def test_a_deleted_database_makes_every_page_and_the_api_answer_503_in_the_words_of_health(
        seeded_database, tmp_path):
    path = newer_copy(seeded_database, tmp_path / "papers.db", tmp_path)
    with app_on(path) as client:
        urls = catalogue_urls(client)
        for url in urls:  # cached answers and built catalogues exist before the delete
            assert client.get(url).status_code == 200, url
        path.unlink()
        wait_for_the_file_check()
        health = client.get("/health")
        assert health.status_code == 503 and health.json() == {"status": "error", "detail": db.MISSING}
        for url in urls:
            response = client.get(url)
            assert response.status_code == 503, (url, response.status_code)
            if url.startswith("/api/"):
                assert response.json() == {"detail": db.MISSING}, url
            else:
                assert "file is missing (moved or deleted)" in response.text, url
            assert response.headers["retry-after"] == "5", url


def test_a_database_put_back_is_served_again(seeded_database, tmp_path):
    path = copy_database(seeded_database, tmp_path / "papers.db")
    with app_on(path) as client:
        assert client.get("/api/papers", params={"q": "distillation"}).status_code == 200
        aside = tmp_path / "aside.db"
        os.replace(path, aside)
        wait_for_the_file_check()
        assert client.get("/api/papers", params={"q": "distillation"}).status_code == 503
        os.replace(aside, path)
        wait_for_the_file_check()
        back = client.get("/api/papers", params={"q": "distillation"})
        assert back.status_code == 200 and back.json()["total"] > 0


def test_a_log_left_by_the_replaced_file_is_refused_until_removed(seeded_database, tmp_path):
    """SQLite reads a `-wal` file beside the path as that file's, whichever file is there now:
    served, the new file would show the old one's pages. Refused in words; removing the two files
    that belong to the old database brings the new one up."""
    path = copy_database(seeded_database, tmp_path / "papers.db")
    with app_on(path) as client:
        assert client.get("/api/papers", params={"q": "distillation"}).status_code == 200
        source = tmp_path / "later.jsonl"
        source.write_text(NEW_PAPER.replace("Zebrafinch", "Nightingale"))
        writer = connect(path)  # an ingest into the served file: its pages wait in the log
        ingest(writer, [str(source)], fmt="jsonl", source="test", quiet=True)
        writer.close()
        assert Path(f"{path}-wal").stat().st_size > 0
        os.replace(newer_copy(seeded_database, tmp_path / "new.db", tmp_path), path)
        wait_for_the_file_check()
        refused = client.get("/api/papers", params={"q": "zebrafinch"})
        assert refused.status_code == 503 and "papers.db-wal" in refused.json()["detail"]
        assert client.get("/health").json() == {"status": "error", "detail": refused.json()["detail"]}
        for suffix in ("-wal", "-shm"):
            Path(f"{path}{suffix}").unlink()
        served = client.get("/api/papers", params={"q": "zebrafinch"}).json()
        assert served["total"] == 1
        assert client.get("/api/papers", params={"q": "nightingale"}).json()["total"] == 0


def test_following_the_file_costs_one_stat_per_interval_not_per_call(seeded, monkeypatch):
    looked = []
    real_stat = os.stat
    monkeypatch.setattr(db.os, "stat", lambda p, *a, **k: looked.append(p) or real_stat(p, *a, **k))
    db.reader()
    looked.clear()
    started = time.monotonic()
    for _ in range(1000):
        db.reader()
    elapsed = time.monotonic() - started
    assert len(looked) <= elapsed / db.FILE_CHECK_SECONDS + 1


def test_every_worker_of_a_live_server_follows_the_file(seeded_database, tmp_path):
    """Two `papers serve` workers, each with its own catalogue: every answer, whichever worker gives it,
    comes from the moved-in file, then is 503 once the file is gone."""
    data = tmp_path / "data"
    path = copy_database(seeded_database, data / "papers.db")
    with live_server(data, "--workers", "2", "--no-seed") as (port, _log, _process):
        with Client(port) as client:
            for _ in range(10):
                assert client.get_json("/api/papers?q=zebrafinch")[1]["total"] == 0
        os.replace(newer_copy(seeded_database, tmp_path / "new.db", tmp_path), path)
        wait_for_the_file_check()
        for _ in range(20):  # new connections, spread over both workers
            with Client(port) as client:
                status, body = client.get_json("/api/papers?q=zebrafinch")
                assert status == 200 and body["total"] == 1
        path.unlink()
        wait_for_the_file_check()
        for _ in range(20):
            with Client(port) as client:
                status, body = client.get_json("/api/papers?q=zebrafinch")
                assert status == 503 and body == {"detail": db.MISSING}
                assert client.get_json("/health") == (503, {"status": "error", "detail": db.MISSING})
