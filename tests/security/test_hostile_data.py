"""Hostile papers: the ingest stores or refuses them as documented, and no page, snippet, feed,
BibTeX entry, JSON-LD block or meta tag ever carries executable markup or breaks its format."""

import re

import pytest
from hostile_records import (FTS, IMG, JINJA, MARKERS, REFUSED, SCRIPT, STORED, STRIPPED, TEX, clean,
                             invisible_characters)
from wellformed import check_bibtex, check_html, check_xml

from app.db import connect
from app.ingest.records import title_key

ATOM = "{http://www.w3.org/2005/Atom}"
XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def key_of(record: dict) -> str:
    return record.get("id") or title_key(clean(record["title"]))


def stored_row(path, record):
    conn = connect(path)
    try:
        return conn.execute("SELECT id, key, title, abstract, url FROM papers WHERE key = ?",
                            (key_of(record),)).fetchone()
    finally:
        conn.close()


def author_slugs(path, paper_id) -> list[tuple[str, str]]:
    conn = connect(path)
    try:
        return [(r[0], r[1]) for r in conn.execute(
            "SELECT a.name, a.slug FROM paper_authors pa JOIN authors a ON a.id = pa.author_id"
            " WHERE pa.paper_id = ? ORDER BY pa.position", (paper_id,))]
    finally:
        conn.close()


# --- what the ingest keeps -------------------------------------------------------------

@pytest.mark.parametrize("name", STORED)
def test_hostile_text_is_stored_as_text_without_invisible_characters(hostile, name):
    record = STORED[name]
    row = stored_row(hostile[0], record)
    assert row is not None, f"{name} was not stored"
    assert row["title"] == clean(record["title"]) and row["abstract"] == clean(record["abstract"])
    for text in (row["title"], row["abstract"]):
        assert not invisible_characters(text)


def test_format_characters_are_stripped_and_an_author_made_of_them_is_no_author(hostile):
    row = stored_row(hostile[0], STORED["format"])
    assert "softhyphen wordjoiner marked tagged" in row["title"]
    assert "\u0645\u06cc\u200c\u062e" in row["abstract"] and "\u0915\u094d\u200d\u0937" in row["abstract"]
    assert "\U0001f469\U0001f4bb" in row["abstract"]  # not a word: the joiner goes
    assert [name for name, _slug in author_slugs(hostile[0], row["id"])] == ["Dana Scully", "Fox"]


@pytest.mark.parametrize("name", REFUSED)
def test_dangerous_or_oversized_records_are_refused_with_a_reason(hostile_database, name):
    _, reason = REFUSED[name]
    assert re.search(rf"hostile\.jsonl:\d+: skipped: {reason}", hostile_database[1]), hostile_database[1]


@pytest.mark.parametrize("name", STRIPPED)
def test_dangerous_or_oversized_fields_are_dropped_and_the_paper_kept(hostile_database, name):
    record, dropped = STRIPPED[name]
    assert re.search(rf"hostile\.jsonl:\d+: kept, {dropped}", hostile_database[1]), hostile_database[1]
    conn = connect(hostile_database[0])
    try:
        row = conn.execute("SELECT url, authors, categories FROM papers WHERE title = ?",
                           (record["title"],)).fetchone()
    finally:
        conn.close()
    assert row is not None and row["url"] is None and row["authors"] == "" and row["categories"] == ""


def test_no_stored_url_is_anything_but_http(hostile):
    conn = connect(hostile[0])
    urls = [row[0] for row in conn.execute("SELECT url FROM papers WHERE url IS NOT NULL")]
    conn.close()
    assert urls and all(re.match(r"https?://", url) for url in urls)


# --- what the pages show --------------------------------------------------------------

@pytest.mark.parametrize("name", STORED)
def test_paper_page_meta_tags_and_json_ld_carry_the_text_and_nothing_else(hostile_client, hostile, name):
    record = STORED[name]
    row = stored_row(hostile[0], record)
    response = hostile_client.get(f"/papers/{row['key']}")
    assert response.status_code == 200
    page = check_html(response.text)
    assert page.meta("og:title") == [row["title"]] == page.meta("citation_title")
    assert page.meta("citation_abstract") == [row["abstract"]]
    names = [name for name, _ in author_slugs(hostile[0], row["id"])]
    assert page.meta("citation_author") == names
    (ld,) = page.json_ld
    assert ld["name"] == row["title"] and ld["abstract"] == row["abstract"]
    assert [a["name"] for a in ld.get("author", [])] == names
    # A template expression in the data is shown, not evaluated.
    if name == "template":
        assert "{{ 7*7 }}" in page.meta("og:title")[0] and "49" not in page.meta("og:title")[0]


@pytest.mark.parametrize("name", STORED)
def test_every_page_about_a_hostile_paper_is_well_formed(hostile_client, hostile, name):
    row = stored_row(hostile[0], STORED[name])
    key = row["key"]
    fragment = {"HX-Request": "true"}
    for url, headers in [(f"/papers/{key}", {}), (f"/related/{key}", {}), (f"/related/{key}", fragment)]:
        response = hostile_client.get(url, headers=headers)
        assert response.status_code == 200, url
        check_html(response.text, fragment=bool(headers))
    for _, slug in author_slugs(hostile[0], row["id"]):
        response = hostile_client.get(f"/authors/{slug}")
        assert response.status_code == 200, slug
        check_html(response.text)
    api = hostile_client.get(f"/api/papers/{key}")
    assert api.status_code == 200 and api.json()["title"] == row["title"]


def test_a_hostile_source_url_is_an_attribute_value_not_markup(hostile_client, hostile):
    row = stored_row(hostile[0], STORED["url"])
    page = check_html(hostile_client.get(f"/papers/{row['key']}").text)
    assert row["url"] in page.attributes("a", "href")


@pytest.mark.parametrize("q", ["experts", "distillation", "experts distillation", SCRIPT, IMG, TEX, FTS,
                               MARKERS, JINJA, "alert", "script", "onerror", "input", "passwd", "raw"])
@pytest.mark.parametrize("fragment", [False, True])
def test_search_pages_and_snippets_are_well_formed(hostile_client, q, fragment):
    headers = {"HX-Request": "true"} if fragment else {}
    response = hostile_client.get("/", params={"q": q}, headers=headers)
    assert response.status_code == 200
    check_html(response.text, fragment=fragment)
    api = hostile_client.get("/api/papers", params={"q": q, "per_page": 100})
    assert api.status_code == 200
    for result in api.json()["results"]:
        snippet = check_html(result["snippet"], fragment=True)
        assert {tag for tag, _ in snippet.elements} <= {"mark"}, result["snippet"]


def test_search_query_echoed_into_the_page_stays_text(hostile_client):
    response = hostile_client.get("/", params={"q": SCRIPT})
    page = check_html(response.text)
    assert SCRIPT in page.attributes("input", "value")


def test_atom_feed_is_valid_and_carries_the_text(hostile_client, hostile):
    response = hostile_client.get("/feed.atom", params={"q": "experts"})
    assert response.status_code == 200
    feed = check_xml(response.content)
    entries = feed.findall(f"{ATOM}entry")
    assert len(entries) == len(STORED)
    by_link = {e.find(f"{ATOM}link").get("href").rsplit("/papers/", 1)[1]: e for e in entries}
    for record in STORED.values():
        row = stored_row(hostile[0], record)
        entry = by_link[row["key"]]
        assert entry.find(f"{ATOM}title").text == XML_INVALID.sub("", row["title"])
        assert entry.find(f"{ATOM}summary").text == XML_INVALID.sub("", row["abstract"])
        assert entry.find(f"{ATOM}summary").get("type") == "text"


def test_bibtex_export_parses_and_no_tex_command_comes_from_the_data(hostile_client, hostile):
    response = hostile_client.get("/export.bib", params={"q": "experts"})
    assert response.status_code == 200
    check_bibtex(response.text, entries=len(STORED))
    for record in STORED.values():
        key = stored_row(hostile[0], record)["key"]
        single = hostile_client.get(f"/papers/{key}.bib")
        assert single.status_code == 200
        check_bibtex(single.text, entries=1)


def test_pages_listing_everything_are_well_formed(hostile_client):
    for url in ["/", "/tags", "/tags/cs.LG", "/tags/distillation", "/sitemap.xml", "/opensearch.xml",
                "/api/tags", "/api/papers?per_page=100", "/feed.atom", "/export.bib"]:
        response = hostile_client.get(url)
        assert response.status_code == 200, url
        kind = response.headers["content-type"]
        if "html" in kind:
            check_html(response.text)
        elif "xml" in kind:
            check_xml(response.content)
        elif "bibtex" in kind:
            check_bibtex(response.text)
        else:
            response.json()
