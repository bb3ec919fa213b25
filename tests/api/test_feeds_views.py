"""Atom feeds and BibTeX exports of any search or tag view."""

import json
import re
from xml.etree import ElementTree as ET

import bibtexparser
import pytest

ATOM = "{http://www.w3.org/2005/Atom}"


@pytest.fixture
def site_with_dates(database, tmp_path):
    from fastapi.testclient import TestClient

    from app.db import connect
    from app.ingest import ingest
    from app.main import create_app

    path = tmp_path / "dated.jsonl"
    path.write_text("\n".join(json.dumps({
        "id": f"240{month}.0000{month}", "title": f"Paper number {month}", "abstract": f"Abstract {month}.",
        "authors": ["Someone Else"], "published": f"2024-0{month}-01"}) for month in (2, 5, 3)) + "\n")
    conn = connect(database)
    assert ingest(conn, [str(path)], fmt="jsonl", source="test", quiet=True)[1] == 0
    conn.close()
    with TestClient(create_app()) as test_client:
        yield test_client


def parse_atom(response):
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/atom+xml")
    root = ET.fromstring(response.content)
    assert root.tag == f"{ATOM}feed"
    return root


def test_catalogue_feed_is_valid_atom_with_required_elements(client):
    feed = parse_atom(client.get("/feed.atom"))
    for name in ("id", "title", "updated"):
        assert feed.find(f"{ATOM}{name}") is not None
    self_link = [link for link in feed.findall(f"{ATOM}link") if link.get("rel") == "self"]
    assert self_link[0].get("href") == "http://testserver/feed.atom"
    entries = feed.findall(f"{ATOM}entry")
    assert 0 < len(entries) <= 50
    for entry in entries:
        for name in ("id", "title", "updated", "link", "summary"):
            assert entry.find(f"{ATOM}{name}") is not None, name
        assert entry.find(f"{ATOM}id").text.startswith("http://testserver/papers/")


def test_search_feed_holds_the_search_results(client):
    feed = parse_atom(client.get("/feed.atom?q=experts&tag=mixture-of-experts"))
    links = [e.find(f"{ATOM}id").text.removeprefix("http://testserver") for e in feed.findall(f"{ATOM}entry")]
    page = client.get("/?q=experts&tag=mixture-of-experts&sort=newest&per_page=100").text
    shown = re.findall(r'class="hit-title"><a href="([^"]+)"', page)
    assert links and links == shown[:50]
    alternate = [link for link in feed.findall(f"{ATOM}link") if link.get("rel") == "alternate"][0]
    assert alternate.get("href") == "http://testserver/tags/mixture-of-experts?q=experts"


def test_tag_feed_entries_all_carry_the_tag(client):
    feed = parse_atom(client.get("/feed.atom?tag=mixture-of-experts"))
    entries = feed.findall(f"{ATOM}entry")
    assert entries
    for entry in entries:
        assert "mixture-of-experts" in [c.get("term") for c in entry.findall(f"{ATOM}category")]


def test_tag_page_links_its_feed(client):
    assert 'href="/feed.atom?tag=mixture-of-experts"' in client.get("/tags/mixture-of-experts").text


def test_feed_is_newest_first(site_with_dates):
    feed = parse_atom(site_with_dates.get("/feed.atom"))
    published = [e.find(f"{ATOM}published").text for e in feed.findall(f"{ATOM}entry")]
    assert published == sorted(published, reverse=True) and len(published) == 3


def test_bulk_bibtex_export_parses_and_holds_the_view(client):
    response = client.get("/export.bib?tag=mixture-of-experts")
    assert response.status_code == 200 and "bibtex" in response.headers["content-type"]
    library = bibtexparser.parse_string(response.text)
    assert not library.failed_blocks
    keys = [entry.key for entry in library.entries]
    assert len(keys) == len(set(keys))
    tag_page = client.get("/tags/mixture-of-experts").text
    assert f"{len(keys)} paper" in tag_page
    assert all(entry["url"].startswith("http://testserver/papers/") for entry in library.entries)


def test_bulk_bibtex_export_of_the_whole_catalogue(client):
    library = bibtexparser.parse_string(client.get("/export.bib").text)
    assert not library.failed_blocks and len(library.entries) == 93


def test_exports_of_an_empty_view_are_still_valid(client):
    feed = parse_atom(client.get("/feed.atom?q=zzzzqqqxxyy"))
    assert feed.findall(f"{ATOM}entry") == []
    assert bibtexparser.parse_string(client.get("/export.bib?q=zzzzqqqxxyy").text).entries == []


def test_hostile_query_text_stays_inside_the_feed_title(client):
    feed = parse_atom(client.get("/feed.atom", params={"q": '</title><x>"&'}))
    assert '</title><x>"&' in feed.find(f"{ATOM}title").text


def test_an_author_feed_is_named_for_the_author_and_leads_to_their_page(site_with_dates):
    root = parse_atom(site_with_dates.get("/feed.atom?author=someone-else"))
    assert root.find(f"{ATOM}title").text.endswith("by Someone Else")
    alternate = [link.get("href") for link in root.findall(f"{ATOM}link") if link.get("rel") == "alternate"]
    assert alternate and alternate[0].endswith("/authors/someone-else")
