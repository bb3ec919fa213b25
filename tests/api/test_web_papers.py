"""Paper permalinks made to be shared and cited, author pages, and the files crawlers read."""

import json
import re
from html.parser import HTMLParser
from xml.etree import ElementTree as ET

import bibtexparser
import pytest

MIXTRAL = {
    "id": "2401.04088", "title": "Mixtral of Experts",
    "abstract": "We introduce Mixtral 8x7B, a sparse mixture of experts (SMoE) language model. Each layer routes "
                "every token to two experts chosen by a router network; the sparse experts keep inference fast.",
    "authors": ["Albert Q. Jiang", "Alexandre Sablayrolles", "Antoine Roux"],
    "published": "2024-01-08", "categories": ["cs.LG", "cs.CL"], "url": "https://arxiv.org/abs/2401.04088",
}
SWITCH = {
    "id": "2101.03961", "title": "Switch Transformers: Scaling to Trillion Parameter Models with Simple and Efficient Sparsity",
    "abstract": "In deep learning, models typically reuse the same parameters for all inputs. A mixture of experts "
                "model instead selects different parameters for each token: a sparse router sends every token "
                "to one of many experts.",
    "authors": ["William Fedus", "Barret Zoph", "Noam Shazeer"],
    "published": "2021-01-11", "categories": ["cs.LG"],
}
HOSTILE = {
    "id": "hep-th/9901001",
    "title": 'Strings & </script><script>alert("x")</script> {braces} 100% $math$',
    "abstract": "An old-style identifier with a slash, and a title that tries to close the JSON-LD script element.",
    "authors": ["Ana Müller", "José O'Neil"],
    "published": "1999-01-04", "categories": ["hep-th"],
}
UNRELATED = {
    "id": "2405.00002", "title": "Bird song recordings from alpine meadows",
    "abstract": "We recorded bird song in alpine meadows over three summers.",
    "authors": ["Albert Q. Jiang"], "published": "2024-05-01", "categories": ["q-bio.PE"],
}
RENAMED_TITLE = "A Paper First Seen Without Its Identifier"
RENAMED_ABSTRACT = "It was loaded from a page without an arXiv id, then again from arXiv with one."


class Head(HTMLParser):
    def __init__(self, html: str):
        super().__init__()
        self.meta: list[dict] = []
        self.links: list[dict] = []
        self.anchors: list[dict] = []
        self.scripts: list[tuple[dict, str]] = []
        self._script: dict | None = None
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "meta":
            self.meta.append(attrs)
        elif tag == "link":
            self.links.append(attrs)
        elif tag == "a":
            self.anchors.append(attrs)
        elif tag == "script":
            self._script = attrs
            self.scripts.append((attrs, ""))

    def handle_data(self, data):
        if self._script is not None:
            attrs, text = self.scripts[-1]
            self.scripts[-1] = (attrs, text + data)

    def handle_endtag(self, tag):
        if tag == "script":
            self._script = None

    def content(self, key: str, value: str) -> list[str]:
        return [m["content"] for m in self.meta if m.get(key) == value]

    def json_ld(self) -> dict:
        blocks = [text for attrs, text in self.scripts if attrs.get("type") == "application/ld+json"]
        assert len(blocks) == 1
        return json.loads(blocks[0])


@pytest.fixture
def catalogue(database, tmp_path):
    """A small catalogue with authors, dates, categories, an old-style id and a renamed paper."""
    from app.db import connect
    from app.ingest import ingest

    first = tmp_path / "first.jsonl"
    first.write_text("\n".join(json.dumps(r) for r in [
        MIXTRAL, SWITCH, HOSTILE, UNRELATED,
        {"title": RENAMED_TITLE, "abstract": RENAMED_ABSTRACT, "authors": ["Ana Müller"]},
    ]) + "\n", encoding="utf-8")
    second = tmp_path / "second.jsonl"
    second.write_text(json.dumps({"id": "2402.00001", "title": RENAMED_TITLE, "abstract": RENAMED_ABSTRACT,
                                  "authors": ["Ana Müller"], "published": "2024-02-01"}) + "\n", encoding="utf-8")
    conn = connect(database)
    for path in (first, second):
        _, status = ingest(conn, [str(path)], fmt="jsonl", source="test", quiet=True)
        assert status == 0
    old_key = conn.execute("SELECT key FROM aliases").fetchone()[0]
    conn.close()
    return {"old_key": old_key}


@pytest.fixture
def site(catalogue):
    from fastapi.testclient import TestClient

    from app.main import create_app

    with TestClient(create_app()) as test_client:
        yield test_client


# --- the permalink ------------------------------------------------------------------------

def test_paper_page_shows_title_authors_and_abstract(site):
    response = site.get("/papers/2401.04088")
    assert response.status_code == 200
    assert "Mixtral of Experts" in response.text and "router network" in response.text
    assert [a["href"] for a in Head(response.text).anchors if a.get("href", "").startswith("/authors/")] == [
        "/authors/albert-q-jiang", "/authors/alexandre-sablayrolles", "/authors/antoine-roux"]


def test_paper_page_has_its_canonical_link(site):
    head = Head(site.get("/papers/2401.04088").text)
    assert [link["href"] for link in head.links if link.get("rel") == "canonical"] == [
        "http://testserver/papers/2401.04088"]


def test_paper_page_has_opengraph_and_twitter_cards(site):
    head = Head(site.get("/papers/2401.04088").text)
    assert head.content("property", "og:title") == ["Mixtral of Experts"]
    assert head.content("property", "og:type") == ["article"]
    assert head.content("property", "og:url") == ["http://testserver/papers/2401.04088"]
    assert head.content("property", "og:description")[0].startswith("We introduce Mixtral")
    assert head.content("name", "twitter:card") == ["summary"]
    assert head.content("name", "twitter:title") == ["Mixtral of Experts"]


def test_paper_page_has_google_scholar_citation_tags(site):
    head = Head(site.get("/papers/2401.04088").text)
    assert head.content("name", "citation_title") == ["Mixtral of Experts"]
    assert head.content("name", "citation_author") == ["Albert Q. Jiang", "Alexandre Sablayrolles", "Antoine Roux"]
    assert head.content("name", "citation_publication_date") == ["2024/01/08"]
    assert head.content("name", "citation_arxiv_id") == ["2401.04088"]
    assert head.content("name", "citation_pdf_url") == ["https://arxiv.org/pdf/2401.04088"]
    assert head.content("name", "citation_abstract")[0].startswith("We introduce Mixtral")


def test_paper_page_has_json_ld_scholarly_article(site):
    data = Head(site.get("/papers/2401.04088").text).json_ld()
    assert data["@type"] == "ScholarlyArticle"
    assert data["name"] == "Mixtral of Experts"
    assert data["url"] == "http://testserver/papers/2401.04088"
    assert [a["name"] for a in data["author"]] == ["Albert Q. Jiang", "Alexandre Sablayrolles", "Antoine Roux"]
    assert data["datePublished"] == "2024-01-08"


def test_json_ld_cannot_close_its_script_element(site):
    body = site.get("/papers/hep-th/9901001").text
    block = body[body.index('<script type="application/ld+json">'):]
    block = block[:block.index("</script>")]
    assert "<" not in block.removeprefix('<script type="application/ld+json">')
    assert "\\u003c/script\\u003e" in block and "\\u0026" in block
    assert Head(body).json_ld()["name"] == HOSTILE["title"]


def test_hostile_title_is_escaped_everywhere_in_the_page(site):
    body = site.get("/papers/hep-th/9901001").text
    assert '<script>alert("x")</script>' not in body
    assert [attrs for attrs, _ in Head(body).scripts if not attrs.get("src")] == [{"type": "application/ld+json"}]


def test_old_style_identifier_with_a_slash_has_a_permalink(site):
    response = site.get("/papers/hep-th/9901001")
    assert response.status_code == 200
    assert Head(response.text).content("name", "citation_arxiv_id") == ["hep-th/9901001"]


def test_arxiv_links_point_to_abstract_and_pdf(site):
    hrefs = [a.get("href") for a in Head(site.get("/papers/2401.04088").text).anchors]
    assert "https://arxiv.org/abs/2401.04088" in hrefs and "https://arxiv.org/pdf/2401.04088" in hrefs


def test_copy_link_button_carries_the_canonical_url(site):
    assert 'data-copy="http://testserver/papers/2401.04088"' in site.get("/papers/2401.04088").text


def test_paper_page_shows_its_tags_with_the_reason(site):
    body = site.get("/papers/2401.04088").text
    assert 'href="/tags/mixture-of-experts"' in body
    section = body[body.index('id="tags-h"'):body.index('id="cite-h"')]
    assert "mixture of experts" in section.lower() and "<mark>" in section
    assert 'href="/tags/cs.LG"' in body


def test_abstract_highlights_the_terms_that_tagged_it(site):
    body = site.get("/papers/2401.04088").text
    abstract = body[body.index('class="abstract"'):]
    abstract = abstract[:abstract.index("</p>")]
    assert re.search(r"<mark>mixture of experts</mark>", abstract, re.I)


def test_related_papers_show_the_reason(site):
    related = site.get("/related/2401.04088", headers={"HX-Request": "true"}).text
    assert related.strip().startswith('<section id="related"')
    assert "/papers/2101.03961" in related
    assert "/papers/2405.00002" not in related and "/papers/2401.04088" not in related
    reason = re.search(r'<span class="reason">([^<]+)</span>', related).group(1)
    assert "Mixture of experts" in reason or "shares" in reason.lower()


def test_paper_page_loads_related_papers_after_itself(site):
    body = site.get("/papers/2401.04088").text
    section = body[body.index('<section id="related"'):]
    assert 'hx-get="/related/2401.04088"' in section and 'hx-trigger="load"' in section
    assert 'href="/related/2401.04088"' in section  # the same list without JavaScript


def test_related_page_without_javascript_is_a_full_page(site):
    response = site.get("/related/2401.04088")
    assert response.text.lstrip().lower().startswith("<!doctype html>")
    assert "/papers/2101.03961" in response.text
    assert "HX-Request" in response.headers["vary"]


def test_related_of_an_unknown_paper_is_a_404(site):
    assert site.get("/related/0000.00000").status_code == 404


def test_alias_answers_301_to_the_canonical_url(site, catalogue):
    response = site.get(f"/papers/{catalogue['old_key']}", follow_redirects=False)
    assert response.status_code == 301
    assert response.headers["location"] == "/papers/2402.00001"


def test_alias_of_bibtex_redirects_to_the_canonical_bibtex(site, catalogue):
    response = site.get(f"/papers/{catalogue['old_key']}.bib", follow_redirects=False)
    assert response.status_code == 301 and response.headers["location"] == "/papers/2402.00001.bib"


@pytest.mark.parametrize("path, target", [
    ("/papers/2401.04088/mixtral-of-experts", "/papers/2401.04088"),
    ("/papers/hep-th/9901001/strings", "/papers/hep-th/9901001"),
])
def test_slugged_url_redirects_to_the_canonical_url(site, path, target):
    response = site.get(path, follow_redirects=False)
    assert response.status_code == 301 and response.headers["location"] == target


def test_unknown_paper_is_a_helpful_404(site):
    response = site.get("/papers/9999.99999")
    assert response.status_code == 404
    assert "9999.99999" in response.text
    assert 'type="search"' in response.text and "text/html" in response.headers["content-type"]


@pytest.mark.parametrize("key, arxiv", [
    ("9999.99999", "9999.99999"), ("9999.99999v3", "9999.99999"), ("math.GT/0309136", "math.GT/0309136"),
])
def test_an_arxiv_id_not_in_the_catalogue_points_to_arxiv(site, key, arxiv):
    response = site.get(f"/papers/{key}")
    assert response.status_code == 404
    assert f'href="https://arxiv.org/abs/{arxiv}"' in response.text


def test_a_key_that_is_no_arxiv_id_points_nowhere_else(site):
    response = site.get("/papers/no-such-paper")
    assert response.status_code == 404 and "arxiv.org/abs/" not in response.text


def test_year_facet_filters_the_view(site):
    body = site.get("/?year=2024").text
    assert "/papers/2401.04088" in body and "/papers/2101.03961" not in body
    assert '<li class="facet is-selected" data-facet="2024">' in body


def test_year_out_of_range_is_a_422_page(site):
    assert site.get("/?year=0").status_code == 422


# --- BibTeX ---------------------------------------------------------------------------------

def test_paper_bibtex_parses_with_the_expected_fields(site):
    response = site.get("/papers/2401.04088.bib")
    assert response.status_code == 200 and "bibtex" in response.headers["content-type"]
    library = bibtexparser.parse_string(response.text)
    assert not library.failed_blocks
    (entry,) = library.entries
    assert entry.key == "jiang2024mixtral"
    assert entry["title"] == "{Mixtral of Experts}"
    assert entry["author"] == "Albert Q. Jiang and Alexandre Sablayrolles and Antoine Roux"
    assert entry["eprint"] == "2401.04088" and entry["archivePrefix"] == "arXiv"
    assert entry["primaryClass"] == "cs.LG" and entry["year"] == "2024"
    assert entry["url"] == "http://testserver/papers/2401.04088"


@pytest.mark.parametrize("path", ["/papers/2401.04088.bib", "/list.bib?ids=2401.04088", "/export.bib?q=mixtral"])
def test_every_export_names_the_papers_primary_category(site, path):
    # Mixtral lists cs.LG first, then cs.CL: cs.CL sorts first by name, but is not its primary class.
    (entry,) = [e for e in bibtexparser.parse_string(site.get(path).text).entries if e["eprint"] == "2401.04088"]
    assert entry["primaryClass"] == "cs.LG"


def test_bibtex_of_an_old_style_identifier_with_hostile_title_parses(site):
    library = bibtexparser.parse_string(site.get("/papers/hep-th/9901001.bib").text)
    assert not library.failed_blocks and len(library.entries) == 1
    title = library.entries[0]["title"]
    assert r"\&" in title and r"\{braces\}" in title and r"100\%" in title and r"\$math\$" in title


def test_paper_page_shows_the_bibtex_it_serves(site):
    body = site.get("/papers/2401.04088").text
    assert "@misc{jiang2024mixtral," in body


# --- authors -----------------------------------------------------------------------------------

def test_author_page_lists_their_papers_newest_first(site):
    body = site.get("/authors/albert-q-jiang").text
    assert "Albert Q. Jiang" in body
    assert body.index("/papers/2405.00002") < body.index("/papers/2401.04088")
    assert "/papers/2101.03961" not in body


def test_unknown_author_is_a_404_page(site):
    assert site.get("/authors/nobody-at-all").status_code == 404


# --- files for crawlers and browsers -----------------------------------------------------------

SITEMAP_NS = "{http://www.sitemaps.org/schemas/sitemap/0.9}"


def test_sitemap_lists_every_paper(client):
    response = client.get("/sitemap.xml")
    assert response.status_code == 200 and "xml" in response.headers["content-type"]
    locations = [loc.text for loc in ET.fromstring(response.content).iter(f"{SITEMAP_NS}loc")]
    papers = [loc for loc in locations if "/papers/" in loc]
    assert len(papers) == len(set(papers)) == 93


def test_sitemap_keys_resolve(site):
    locations = [loc.text for loc in ET.fromstring(site.get("/sitemap.xml").content).iter(f"{SITEMAP_NS}loc")]
    assert "http://testserver/papers/hep-th/9901001" in locations
    for loc in locations:
        assert site.get(loc.removeprefix("http://testserver")).status_code == 200


def test_robots_txt_points_to_the_sitemap(client):
    body = client.get("/robots.txt").text
    assert "Sitemap: http://testserver/sitemap.xml" in body
    assert "Disallow: /api/" in body


def test_opensearch_description_is_valid_and_linked(client):
    response = client.get("/opensearch.xml")
    root = ET.fromstring(response.content)
    ns = "{http://a9.com/-/spec/opensearch/1.1/}"
    templates = [u.get("template") for u in root.iter(f"{ns}Url")]
    assert "http://testserver/?q={searchTerms}" in templates
    assert 'rel="search" type="application/opensearchdescription+xml"' in client.get("/").text


def test_base_url_setting_overrides_the_request_origin(site, monkeypatch):
    from app.settings import get_settings

    monkeypatch.setenv("BASE_URL", "https://papers.example.org")
    get_settings.cache_clear()
    head = Head(site.get("/papers/2401.04088").text)
    assert [link["href"] for link in head.links if link.get("rel") == "canonical"] == [
        "https://papers.example.org/papers/2401.04088"]


def test_large_catalogue_gets_a_sitemap_index_covering_every_paper(client, monkeypatch):
    from app.web import pages as web

    monkeypatch.setattr(web, "SITEMAP_SIZE", 40)
    index = ET.fromstring(client.get("/sitemap.xml").content)
    assert index.tag == f"{SITEMAP_NS}sitemapindex"
    parts = [loc.text.removeprefix("http://testserver") for loc in index.iter(f"{SITEMAP_NS}loc")]
    assert parts == ["/sitemaps/pages.xml", "/sitemaps/papers-1.xml", "/sitemaps/papers-2.xml",
                     "/sitemaps/papers-3.xml"]
    papers = []
    for part in parts:
        urlset = ET.fromstring(client.get(part).content)
        papers += [loc.text for loc in urlset.iter(f"{SITEMAP_NS}loc") if "/papers/" in loc.text]
    assert len(papers) == len(set(papers)) == 93
    assert client.get("/sitemaps/papers-4.xml").status_code == 404


def test_arxiv_id_with_a_version_redirects_to_the_paper(site):
    response = site.get("/papers/2401.04088v2", follow_redirects=False)
    assert response.status_code == 301 and response.headers["location"] == "/papers/2401.04088"


@pytest.mark.parametrize("path", ["/papers/2401.04088", "/", "/tags", "/sitemap.xml", "/papers/2401.04088.bib"])
def test_head_is_answered_like_get(site, path):
    response = site.head(path)
    assert response.status_code == 200 and response.content == b""
