"""A search view shown again is served from the body kept for its result, and is never stale: a new
paper, another host, the fragment or the page, and a refusal each get their own rendering."""

import json

import pytest


def record(n: int, title: str) -> dict:
    return {"id": f"2403.{n:05d}", "title": title, "abstract": f"An abstract about kept views, number {n}.",
            "authors": ["Kim Lee"], "published": f"2024-03-{n:02d}"}


def load(database, path, records) -> None:
    from app.db import connect
    from app.ingest import ingest

    path.write_text("\n".join(json.dumps(r) for r in records) + "\n", encoding="utf-8")
    conn = connect(database)
    assert ingest(conn, [str(path)], fmt="jsonl", source="test", quiet=True)[1] == 0
    conn.close()


@pytest.fixture
def site(database, tmp_path):
    from fastapi.testclient import TestClient

    from app.main import create_app

    load(database, tmp_path / "first.jsonl", [record(1, "Kept views of sparse retrieval")])
    with TestClient(create_app()) as test_client:
        yield test_client


def test_a_view_asked_again_is_the_same_page(site):
    first = site.get("/?q=sparse+retrieval")
    again = site.get("/?q=sparse+retrieval")
    assert first.status_code == again.status_code == 200
    assert again.text == first.text
    assert again.headers["content-type"] == "text/html; charset=utf-8"
    assert again.headers["vary"] == first.headers["vary"]


def test_a_new_paper_shows_on_the_view_seen_before_it(site, database, tmp_path):
    assert "2403.00002" not in site.get("/?q=sparse+retrieval").text
    assert "2403.00002" not in site.get("/?q=sparse+retrieval", headers={"HX-Request": "true"}).text
    load(database, tmp_path / "second.jsonl", [record(2, "More kept views of sparse retrieval")])
    assert "2403.00002" in site.get("/?q=sparse+retrieval").text
    assert "2403.00002" in site.get("/?q=sparse+retrieval", headers={"HX-Request": "true"}).text


def test_the_fragment_and_the_page_of_one_view_are_kept_apart(site):
    page = site.get("/?q=sparse+retrieval").text
    fragment = site.get("/?q=sparse+retrieval", headers={"HX-Request": "true"}).text
    assert page.lstrip().lower().startswith("<!doctype html")
    assert "<html" not in fragment
    assert site.get("/?q=sparse+retrieval").text == page


def test_each_host_gets_its_own_canonical_link(site):
    one = site.get("/?q=sparse+retrieval", headers={"Host": "one.example"}).text
    other = site.get("/?q=sparse+retrieval", headers={"Host": "other.example"}).text
    assert 'href="http://one.example/?q=sparse+retrieval"' in one
    assert 'href="http://other.example/?q=sparse+retrieval"' in other


def test_a_refused_query_is_answered_422_each_time(site):
    params = {"q": "a ANDNOT " * 40 + "b"}  # more operators than a query may have
    first, again = site.get("/", params=params), site.get("/", params=params)
    assert first.status_code == again.status_code == 422
    assert "at most 24" in again.text
