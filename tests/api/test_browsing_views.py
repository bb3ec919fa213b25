"""What a researcher browsing the pages gets: result rows, pager, pills, notices, hints, tag grid, HEAD."""

import json
import re
from html.parser import HTMLParser

import pytest

TAG = "mixture-of-experts"


def hrefs(body: str) -> list[str]:
    return [h.replace("&amp;", "&") for h in re.findall(r'href="([^"]*)"', body)]


class Elements(HTMLParser):
    """Every element's attributes and the text inside it, for the few checks that need structure."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack: list[tuple[str, dict, list[str]]] = []
        self.found: list[tuple[str, dict, str]] = []

    def handle_starttag(self, tag, attrs):
        if tag in ("input", "meta", "link", "br", "img", "hr", "source"):
            self.found.append((tag, dict(attrs), ""))
            return
        self.stack.append((tag, dict(attrs), []))

    def handle_endtag(self, tag):
        while self.stack:
            name, attrs, text = self.stack.pop()
            content = "".join(text)
            self.found.append((name, attrs, content))
            if self.stack:
                self.stack[-1][2].append(content)
            if name == tag:
                break

    def handle_data(self, data):
        if self.stack:
            self.stack[-1][2].append(data)


def elements(body: str, cls: str) -> list[tuple[str, dict, str]]:
    parser = Elements()
    parser.feed(body)
    return [e for e in parser.found if cls in (e[1].get("class") or "").split()]


# --- bugs ---------------------------------------------------------------------------------------

def test_previous_beyond_the_last_page_leads_to_the_last_page(client):
    pages = -(-93 // 20)
    body = client.get("/?page=50").text
    previous = re.search(r'<a href="([^"]*)"[^>]*rel="prev"', body).group(1)
    assert previous == f"/?page={pages}"
    assert f'href="/?page={pages}"' in body  # "go to the last page" in the empty state too


def test_previous_inside_the_range_is_the_page_before(client):
    body = client.get("/?page=3").text
    assert re.search(r'<a href="/\?page=2"[^>]*rel="prev"', body)


def test_filter_pills_show_tag_names_not_slugs(client):
    body = client.get(f"/?tag={TAG}&not_tag=medical-ai").text
    pills = [re.sub(r"\s+", " ", text).strip() for _, _, text in elements(body, "pill")]
    assert any(p.startswith("Mixture of experts ×") for p in pills), pills
    assert any(p.startswith("not Medical and clinical AI ×") for p in pills), pills
    assert not any(TAG in p or "medical-ai" in p for p in pills)


def test_facet_counts_and_totals_carry_thousands_separators(many_client):
    body = many_client.get("/").text
    facet = [text for _, attrs, text in elements(body, "facet") if attrs.get("data-facet") == "cs.LG"][0]
    assert "1,234" in facet
    assert "1,234 papers" in body


def test_head_answers_like_get_on_docs_and_the_api(client):
    key = client.get("/api/papers", params={"per_page": 1}).json()["results"][0]["id"]
    for path in ("/docs", "/api/papers", "/api/papers?q=experts", "/api/tags", f"/api/papers/{key}",
                 "/", "/tags", f"/papers/{key}"):
        response = client.head(path)
        assert response.status_code == 200, path
        assert response.content == b"", path
    assert all("head" not in operations for operations in client.get("/openapi.json").json()["paths"].values())


def hint_examples(client) -> list[str]:
    hint = re.search(r'<p id="q-hint".*?</p>', client.get("/").text, re.S).group(0)
    return re.findall(r"<code>((?:year|tag):[^<]+)</code>", hint)


def test_search_hint_examples_find_papers_in_this_catalogue(client):
    examples = hint_examples(client)  # the seed papers have no dates: no year to offer
    assert [e.split(":")[0] for e in examples] == ["tag"]
    for example in examples:
        assert client.get("/api/papers", params={"q": example}).json()["total"] > 0, example


def test_search_hint_offers_a_year_the_catalogue_has(many_client):
    examples = hint_examples(many_client)
    assert "year:2026" in examples
    for example in examples:
        assert many_client.get("/api/papers", params={"q": example}).json()["total"] > 0, example


def test_a_misspelled_query_gets_one_notice(client):
    # Corrected and searched: one notice says so and offers the words as typed.
    body = client.get("/", params={"q": "langauge modles reasoning"}).text
    notices = elements(body, "notice")
    assert len(notices) == 1
    assert "Showing results for" in notices[0][2] and "search instead for" in notices[0][2]
    # As typed: the suggestion, still one notice.
    body = client.get("/", params={"q": "langauge modles reasoning", "as_typed": "1"}).text
    notices = elements(body, "notice")
    assert len(notices) == 1 and "Did you mean" in notices[0][2]


# --- result rows --------------------------------------------------------------------------------

def first_row(client, url="/"):
    body = client.get(url).text
    return body, re.search(r'<article class="hit".*?</article>', body, re.S).group(0)


def test_a_row_links_its_authors_arxiv_page_and_pdf(rich_client):
    body, row = first_row(rich_client, "/?q=experts")
    authors = [h for h in hrefs(row) if h.startswith("/authors/")]
    assert authors
    assert rich_client.get(authors[0]).status_code == 200
    arxiv = re.search(r'href="https://arxiv\.org/abs/([^"]+)"', row).group(1)
    assert f'href="https://arxiv.org/pdf/{arxiv}"' in row
    assert f"arXiv:{arxiv}" in row


def test_a_row_with_many_authors_folds_the_rest_behind_et_al(rich_client):
    hits = rich_client.get("/api/papers", params={"per_page": 100}).json()["results"]
    crowded = next(h for h in hits if len(h["authors"]) >= 8)
    body = rich_client.get("/", params={"q": f'"{crowded["title"]}"'}).text
    row = next(r for r in re.findall(r'<article class="hit".*?</article>', body, re.S)
               if f'data-key="{crowded["id"]}"' in r)
    rest = re.search(r'<span class="authors-rest" hidden>(.*?)</span>\s*<a class="et-al" href="([^"]+)"', row, re.S)
    assert rest, "the other authors are in the row, folded"
    assert rest.group(2) == f"/papers/{crowded['id']}#byline"  # without JavaScript: the full byline
    assert crowded["authors"][-1] in rest.group(1)


def test_a_row_holds_the_whole_abstract_to_open_in_place(rich_client):
    paper = rich_client.get("/api/papers", params={"q": "experts", "per_page": 1}).json()["results"][0]
    _, row = first_row(rich_client, "/?q=experts")
    full = re.search(r'<p class="abstract-full">(.*?)</p>', row, re.S).group(1)
    assert re.sub(r"</?mark>", "", full).replace("&#39;", "'").replace("&quot;", '"').replace("&amp;", "&") \
        .replace("&lt;", "<").replace("&gt;", ">") == paper["abstract"]
    assert "<mark>" in full  # the words searched for stay marked


def test_each_row_cites_through_its_bibtex(rich_client):
    _, row = first_row(rich_client)
    bib = re.search(r'<a class="cite" href="([^"]+\.bib)" data-cite', row).group(1)
    response = rich_client.get(bib)
    assert response.status_code == 200
    assert response.text.startswith("@")


# --- pages --------------------------------------------------------------------------------------

def test_tags_page_is_a_grid_per_kind_with_counts_and_a_filter_box(rich_client):
    body = rich_client.get("/tags").text
    assert body.count('class="tag-grid"') == 2
    assert 'id="tags-topic"' in body and 'id="tags-category"' in body
    assert body.index('id="tags-topic"') < body.index('id="tags-category"')
    assert re.search(r'<input id="tag-filter" type="search"', body)
    counts = re.findall(r'<span class="count">([\d,]+)<span class="visually-hidden"> papers?</span>', body)
    assert len(counts) >= 10


def test_paper_page_puts_facts_and_actions_beside_the_abstract(rich_client):
    key = rich_client.get("/api/papers", params={"per_page": 1, "q": "experts"}).json()["results"][0]["id"]
    body = rich_client.get(f"/papers/{key}").text
    main = body.index('class="paper-main"')
    side = body.index('class="paper-side"')
    assert main < body.index('id="abstract-h"') < side < body.index('class="facts"') < body.index('id="cite-h"')
    assert body.index('id="related"') > side


# --- a catalogue big enough for thousands -------------------------------------------------------

@pytest.fixture(scope="module")
def many_database(tmp_path_factory, make_database):
    from app.db import connect
    from app.ingest import ingest

    directory = tmp_path_factory.mktemp("many")
    source = directory / "many.jsonl"
    with source.open("w") as out:
        for n in range(1234):
            out.write(json.dumps({"id": f"2601.{n:05d}", "title": f"Study number {n} of sparse routing",
                                  "abstract": f"An abstract about experiment {n} with routers.",
                                  "authors": ["Ada Lovelace"], "published": "2026-01-15",
                                  "categories": "cs.LG"}) + "\n")
    path = make_database("many")
    connection = connect(path)
    _, status = ingest(connection, [str(source)], fmt="jsonl", source="test", quiet=True)
    connection.close()
    assert status == 0
    return path


@pytest.fixture
def many_client(many_database, monkeypatch):
    from fastapi.testclient import TestClient

    from app.main import create_app
    from app.settings import get_settings

    from backends import database_url

    monkeypatch.setenv("DATABASE_URL", database_url(many_database))
    get_settings.cache_clear()
    with TestClient(create_app()) as test_client:
        yield test_client
    get_settings.cache_clear()
