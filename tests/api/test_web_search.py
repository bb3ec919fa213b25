"""The search and tag pages: full page or htmx fragment, every state a URL, no inline code."""

import re
from html.parser import HTMLParser

import pytest

HX = {"HX-Request": "true"}
HISTORY_RESTORE = {"HX-Request": "true", "HX-History-Restore-Request": "true"}


class Elements(HTMLParser):
    """Start tags with their attributes, in document order."""

    def __init__(self, html: str):
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def find(self, tag: str, **attrs) -> list[dict]:
        return [a for t, a in self.tags if t == tag and all(a.get(k.rstrip("_")) == v for k, v in attrs.items())]


def hrefs(html: str) -> list[str]:
    return [a["href"] for a in Elements(html).find("a") if a.get("href")]


# --- full page or fragment ------------------------------------------------------------

def test_search_page_is_a_full_html_document(client):
    response = client.get("/")
    assert response.status_code == 200
    assert response.text.lstrip().lower().startswith("<!doctype html>")
    assert 'id="results"' in response.text and 'id="search-form"' in response.text


def test_htmx_request_gets_only_the_results_region(client):
    response = client.get("/?q=experts", headers=HX)
    assert response.status_code == 200
    body = re.sub(r"^<title>[^<]*</title>", "", response.text.strip()).strip()
    assert body.startswith('<div id="results"')
    assert "<html" not in body and "<head" not in body and 'id="search-form"' not in body


def test_fragment_carries_the_title_for_htmx_to_update(client):
    body = client.get("/?q=experts", headers=HX).text
    assert re.match(r"<title>experts[^<]*</title>", body.strip())  # at the root, where htmx looks


def test_history_restore_request_gets_the_full_page(client):
    response = client.get("/?q=experts", headers=HISTORY_RESTORE)
    assert response.text.lstrip().lower().startswith("<!doctype html>")


@pytest.mark.parametrize("headers", [{}, HX, HISTORY_RESTORE])
def test_page_and_fragment_responses_vary_on_hx_request(client, headers):
    assert "HX-Request" in client.get("/?q=experts", headers=headers).headers["vary"]


def test_tag_page_answers_a_fragment_to_htmx_too(client):
    response = client.get("/tags/mixture-of-experts?q=experts", headers=HX)
    assert re.match(r'(<title>[^<]*</title>)?\s*<div id="results"', response.text.strip())
    assert "HX-Request" in response.headers["vary"]


def test_fragment_shows_the_same_results_as_the_page(client):
    papers = lambda body: [h for h in hrefs(body) if h.startswith("/papers/")]  # noqa: E731
    page = client.get("/?q=experts&sort=title").text
    fragment = client.get("/?q=experts&sort=title", headers=HX).text
    assert papers(fragment) and papers(fragment) == papers(page[page.index('id="results"'):])


# --- what the page shows ------------------------------------------------------------------

def test_browsing_without_a_query_lists_the_whole_catalogue(client):
    body = client.get("/").text
    assert re.search(r"93\s+papers", body)


def test_results_link_to_permalinks(client):
    links = [h for h in hrefs(client.get("/?q=experts").text) if h.startswith("/papers/")]
    assert links and all(client.get(h).status_code == 200 for h in links[:3])


def test_query_is_kept_in_the_search_box(client):
    inputs = Elements(client.get("/?q=mixture+of+experts").text).find("input", id="q")
    assert inputs[0]["value"] == "mixture of experts"


def test_facet_links_toggle_a_tag_in_the_current_view(client):
    links = hrefs(client.get("/?q=experts").text)
    assert "/?q=experts&tag=mixture-of-experts" in links
    assert "/?q=experts&not_tag=mixture-of-experts" in links


def test_selected_tag_narrows_the_results_and_its_link_removes_it(client):
    everything = client.get("/?q=experts").text
    narrowed = client.get("/?q=experts&tag=mixture-of-experts").text
    count = lambda body: int(re.search(r'id="result-count"[^>]*>\s*(?:About )?([\d,]+)', body).group(1).replace(",", ""))  # noqa: E731
    assert count(narrowed) < count(everything)
    assert "/?q=experts" in hrefs(narrowed)


def test_excluded_tag_removes_its_papers(client):
    body = client.get("/?not_tag=mixture-of-experts").text
    assert 'value="mixture-of-experts" form="search-form"' in body
    tagged = client.get("/tags/mixture-of-experts").text
    tagged_keys = {h for h in hrefs(tagged) if h.startswith("/papers/")}
    assert tagged_keys and not tagged_keys & set(hrefs(body))


def test_filters_ride_along_with_the_search_form(client):
    """Typing a new query keeps the chosen tags: they are inputs of the form, wherever they sit."""
    elements = Elements(client.get("/?q=experts&tag=mixture-of-experts&sort=newest").text)
    hidden = {(a["name"], a["value"]) for a in elements.find("input", type="hidden", form="search-form")}
    assert hidden == {("tag", "mixture-of-experts"), ("sort", "newest")}


def test_search_form_works_without_javascript(client):
    form = Elements(client.get("/").text).find("form", id="search-form")[0]
    assert form["action"] == "/" and form["method"] == "get"


def test_live_search_is_wired_with_htmx(client):
    elements = Elements(client.get("/").text)
    form = elements.find("form", id="search-form")[0]
    assert form["hx-get"] == "/"
    assert "input changed delay:300ms" in form["hx-trigger"] and "submit" in form["hx-trigger"]
    view = [a for t, a in elements.tags if a.get("hx-target") == "#results"][0]
    assert view["hx-push-url"] == "true"
    assert view["hx-sync"].endswith(":replace")
    assert view["hx-indicator"]


def test_every_results_link_is_also_a_plain_link(client):
    for tag, attrs in Elements(client.get("/?q=experts").text).tags:
        if "hx-get" in attrs:
            assert tag in ("a", "form")
            assert attrs.get("href", attrs.get("action")) == attrs["hx-get"]


def test_pagination_links_keep_the_view(client):
    body = client.get("/?per_page=10&sort=title").text
    assert "/?sort=title&page=2&per_page=10" in hrefs(body)
    page2 = client.get("/?per_page=10&sort=title&page=2").text
    assert 'aria-current="page">2<' in page2


def test_page_past_the_end_says_so(client):
    body = client.get("/?page=999").text
    assert "No papers match" in body


def test_search_view_links_its_atom_feed_and_bibtex_export(client):
    elements = Elements(client.get("/?q=experts&tag=mixture-of-experts").text)
    assert elements.find("link", rel="alternate", type="application/atom+xml")[0]["href"] == \
        "/feed.atom?q=experts&tag=mixture-of-experts"
    assert "/export.bib?q=experts&tag=mixture-of-experts" in hrefs(client.get("/?q=experts&tag=mixture-of-experts").text)


def test_tag_page_explains_its_rule_in_words(client):
    body = client.get("/tags/mixture-of-experts").text
    assert "Mixture of experts" in body
    assert "Tagged when the title mentions “mixture of expert”" in body
    assert "the abstract mentions them 3 times" in body
    assert "does not count" in body   # negations and false friends are said to be left out


def test_tag_page_keeps_its_own_tag_out_of_its_links(client):
    links = hrefs(client.get("/tags/mixture-of-experts?sort=title").text)
    assert "/tags/mixture-of-experts?sort=oldest" in links
    assert not any("tag=mixture-of-experts" in link for link in links if link.startswith("/tags/"))


def test_tag_list_shows_every_topic_with_its_count(client):
    body = client.get("/tags").text
    assert "/tags/mixture-of-experts" in hrefs(body)
    assert re.search(r"Mixture of experts</a>\s*<span class=\"count\">[\d,]+<span class=\"visually-hidden\"> papers?", body)


@pytest.mark.parametrize("asked, slug", [("Mixture-Of-Experts", "mixture-of-experts"),
                                         ("MIXTURE-OF-EXPERTS", "mixture-of-experts")])
def test_a_tag_page_asked_in_another_case_redirects_to_its_slug(client, asked, slug):
    response = client.get(f"/tags/{asked}?sort=title&q=experts", follow_redirects=False)
    assert response.status_code == 301 and response.headers["location"] == f"/tags/{slug}?sort=title&q=experts"
    assert client.get(f"/tags/{slug}", follow_redirects=False).status_code == 200


def test_unknown_tag_is_a_404_page(client):
    response = client.get("/tags/no-such-tag")
    assert response.status_code == 404
    assert "text/html" in response.headers["content-type"]


RLO = "\u202e"
BIDI_CONTROLS = re.compile("[\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]")


class TextPlaces(HTMLParser):
    """Each piece of text with the elements it is inside."""
    VOID = {"meta", "link", "input", "img", "br", "hr", "source"}

    def __init__(self, html: str):
        super().__init__()
        self.open: list[str] = []
        self.texts: list[tuple[str, tuple[str, ...]]] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        if tag not in self.VOID:
            self.open.append(tag)

    def handle_endtag(self, tag):
        if tag in self.open:
            del self.open[len(self.open) - 1 - self.open[::-1].index(tag):]

    def handle_data(self, data):
        self.texts.append((data, tuple(self.open)))


def titles(body: str) -> list[str]:
    return [text for text, within in TextPlaces(body).texts if within and within[-1] == "title"]


@pytest.mark.parametrize("headers", [{}, {"HX-Request": "true"}])
def test_a_bidi_override_in_the_query_reverses_nothing_around_it(client, headers):
    # Typed text is shown isolated (<bdi>); the tab title, which has no markup, drops the controls.
    for q in (f"{RLO}evil test robot", f"langauge {RLO}modles reasoning"):
        for params in ({"q": q}, {"q": q, "as_typed": "1"}):
            body = client.get("/", params=params, headers=headers).text
            assert titles(body) and not any(BIDI_CONTROLS.search(t) for t in titles(body))
            shown = [(text, within) for text, within in TextPlaces(body).texts if RLO in text]
            assert shown and all(within[-1] == "bdi" for _, within in shown), shown
    body = client.get("/", params={"q": "langauge modles reasoning"}).text
    assert "<em><bdi>language models reasoning</bdi></em>" in body


def test_a_reading_list_title_is_shown_isolated(client):
    body = client.get("/list", params={"ids": "2401.00001", "title": f"{RLO}my list"}).text
    assert f"<h1><bdi>{RLO}my list</bdi></h1>" in body
    assert titles(body) and not BIDI_CONTROLS.search(titles(body)[0])
    assert not BIDI_CONTROLS.search(re.search(r'<meta name="description" content="([^"]*)"', body).group(1))


# --- errors ------------------------------------------------------------------------------------

def test_unknown_page_is_a_styled_404_with_a_search_box(client):
    response = client.get("/no/such/page")
    assert response.status_code == 404
    elements = Elements(response.text)
    assert elements.find("link", rel="stylesheet")
    assert elements.find("input", type="search")


def test_invalid_parameters_get_a_422_page(client):
    response = client.get("/?year=abc&page=0")
    assert response.status_code == 422
    assert "text/html" in response.headers["content-type"]
    assert "year" in response.text and "page" in response.text


def test_api_errors_stay_json(client):
    response = client.get("/api/no-such-endpoint")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/json")


def test_server_error_is_a_styled_500_page(seeded, monkeypatch):
    from fastapi.testclient import TestClient

    from app.web import pages as web
    from app.main import create_app

    def broken(params):
        raise RuntimeError("boom")

    monkeypatch.setattr(web, "run_search", broken)
    with TestClient(create_app(), raise_server_exceptions=False) as test_client:
        response = test_client.get("/?q=x")
    assert response.status_code == 500
    assert "Something went wrong" in response.text and "boom" not in response.text
    assert "script-src 'self'" in response.headers["content-security-policy"]


# --- strict CSP: nothing inline --------------------------------------------------------------

PAGES = ["/", "/?q=experts&tag=mixture-of-experts", "/tags", "/tags/mixture-of-experts", "/no-such-page"]


@pytest.mark.parametrize("url", PAGES)
def test_pages_need_no_inline_script_or_style(client, url):
    for tag, attrs in Elements(client.get(url).text).tags:
        assert "style" not in attrs, (tag, attrs)
        assert not any(name.startswith(("hx-on", "on")) for name in attrs), (tag, attrs)
        if tag == "script":
            assert attrs.get("src") or attrs.get("type") == "application/ld+json", attrs
        assert tag != "style"


def test_htmx_is_vendored_pinned_and_configured_without_eval(client):
    elements = Elements(client.get("/").text)
    sources = [a["src"] for a in elements.find("script") if a.get("src")]
    htmx = [s for s in sources if "htmx" in s]
    assert htmx and re.fullmatch(r"/static/vendor/htmx-2\.\d+\.\d+\.min\.js", htmx[0])
    assert client.get(htmx[0]).status_code == 200
    config = elements.find("meta", name="htmx-config")[0]["content"]
    assert '"allowEval": false' in config and '"includeIndicatorStyles": false' in config


def test_static_assets_are_served(client):
    assert client.get("/static/app.css").status_code == 200
    assert client.get("/static/app.js").status_code == 200
