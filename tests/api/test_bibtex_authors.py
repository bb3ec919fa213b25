"""Every BibTeX the site gives (the paper page, its .bib behind Cite, /export.bib, reading lists)
takes its authors from the author table through one function: "Smith, John" stays one author, and
an author named "Alice and Bob" is braced so that BibTeX reads one name."""

import html
import io
import json
import re

import pytest
from fastapi.testclient import TestClient

from app.ingest import ingest
from app.main import create_app

RECORD = {"id": "2601.04242", "title": "Zebra finches learn sparse experts",
          "abstract": "Zebra finches and a mixture of experts, studied at length.",
          "authors": ["Smith, John", "Alice and Bob", "Ada Lovelace"], "published": "2026-01-02"}
FIELD = "author = {Smith, John and {Alice and Bob} and Ada Lovelace}"


@pytest.fixture
def bib_client(conn, tmp_path):
    path = tmp_path / "a.jsonl"
    path.write_text(json.dumps(RECORD) + "\n")
    stats, status = ingest(conn, [str(path)], quiet=True, out=io.StringIO())
    assert (stats.inserted, status) == (1, 0)
    with TestClient(create_app()) as client:
        yield client


def author_field(text: str) -> str:
    found = re.search(r"author = \{.*\}", text)
    assert found, text
    return found.group(0)


def test_the_authors_are_the_author_tables(bib_client):
    assert bib_client.get("/api/papers/2601.04242").json()["authors"] == RECORD["authors"]


@pytest.mark.parametrize("url", ["/papers/2601.04242.bib", "/export.bib?q=zebra", "/list.bib?ids=2601.04242"])
def test_every_bibtex_download_has_the_same_author_field(bib_client, url):
    answer = bib_client.get(url)
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("application/x-bibtex")
    assert author_field(answer.text) == FIELD


def test_the_paper_pages_bibtex_block_has_the_same_author_field(bib_client):
    page = bib_client.get("/papers/2601.04242").text
    block = re.search(r'<pre id="bibtex"[^>]*><code>(.*?)</code></pre>', page, re.S)
    assert block, "the paper page shows its BibTeX"
    assert author_field(html.unescape(block.group(1))) == FIELD
