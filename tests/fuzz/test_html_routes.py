"""Property-based fuzzing of the HTML routes and exports (which stay out of the OpenAPI schema): random and
adversarial values in every path and query parameter and in the htmx headers.

For every request: no 500; a status from a short list of clear answers; the security headers; a body that
parses in the format its Content-Type names (HTML with nothing executable, Atom/XML, BibTeX, JSON, text);
and a redirect never leaves the site. Seeded (derandomized) and bounded; `--run-slow` runs each property
FUZZ_EXAMPLES_LONG times.
"""

import os
import sys
from pathlib import Path
from urllib.parse import quote, urljoin, urlsplit

import pytest
from backends import database_url
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "security"))
from wellformed import check_response  # noqa: E402

from app.db import connect  # noqa: E402
from app.main import create_app  # noqa: E402
from app.web.security import SECURITY_HEADERS  # noqa: E402
from app.settings import get_settings  # noqa: E402

FUZZ_EXAMPLES = 200
FUZZ_EXAMPLES_LONG = int(os.environ.get("FUZZ_EXAMPLES_LONG", "600"))
CLEAR_ANSWERS = {200, 301, 307, 400, 404, 405, 413, 414, 422}

NASTY = ['"', "'", "<script>", "</title>", "\"><img src=x onerror=alert(1)>", "javascript:", "*", "NEAR(",
         "title:", "abstract:", "author:", "tag:", "year:", "id:", "AND", "OR", "NOT", "(", ")", "-", "^", "+",
         ":", "\x00", "\x1f", "%", "%00", "%2e%2e", "..", "/", "//", "\\", "\u202e", "\u200b", "\ufeff", "é",
         "e\u0301", "🦜", "{{ 7*7 }}", "{%", "}", "{", "'; DROP TABLE papers; --", "\ue000", "\ue001", "a*",
         "distillation", "experts", "model", "cs.LG", "2401.00001", "v2", ".bib", "\n", "\t", " ", "&", "#", "?",
         "=", ";", "\u2028", "\U0010ffff", "x" * 300]
BASE = ["experts", "distillation", "knowledge", "cs.LG", "cs.CL", "mixture-of-experts", "agents", "2024", "1", ""]


def nasty_text(max_parts: int = 6):
    """Text that mixes query syntax, markup, encodings and odd Unicode (no lone surrogates: URLs are UTF-8)."""
    plain = st.text(st.characters(exclude_categories=["Cs"]), max_size=40)
    return st.lists(st.one_of(st.sampled_from(NASTY), st.sampled_from(BASE), plain), max_size=max_parts).map("".join)


def number_text():
    return st.one_of(st.integers(-10, 20).map(str), st.integers(-10**30, 10**30).map(str),
                     st.sampled_from(["", "1.5", "1e3", "0x10", "NaN", "-0", " 1", "١٢", "9999", "10000"]), nasty_text(2))


VIEW_PARAMS = st.lists(st.one_of(
    st.tuples(st.just("q"), nasty_text()),
    st.tuples(st.sampled_from(["tag", "not_tag"]), st.one_of(st.sampled_from(BASE), nasty_text(2))),
    st.tuples(st.just("year"), number_text()),
    st.tuples(st.just("sort"), st.one_of(st.sampled_from(["relevance", "newest", "oldest", "title", ""]),
                                         nasty_text(2))),
    st.tuples(st.sampled_from(["page", "per_page"]), number_text()),
    st.tuples(nasty_text(2), nasty_text(2)),
), max_size=12)
HTMX = st.sampled_from([{}, {"HX-Request": "true"},
                        {"HX-Request": "true", "HX-History-Restore-Request": "true"}, {"HX-Request": "false"}])


def path_segment():
    """Percent-encoded as a client must, except `%` itself, so pre-encoded tricks (%2e%2e, %00) go through."""
    return st.one_of(st.sampled_from(BASE), nasty_text(3)).map(lambda s: quote(s, safe="/%:@!$&'()*+,;="))


@pytest.fixture(scope="module")
def client(seeded_database):
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DATABASE_URL", database_url(seeded_database))
        patch.delenv("BASE_URL", raising=False)
        get_settings.cache_clear()
        with TestClient(create_app(), follow_redirects=False) as test_client:
            yield test_client
    get_settings.cache_clear()


@pytest.fixture(scope="module")
def keys(seeded_database):
    conn = connect(seeded_database)
    found = [row[0] for row in conn.execute("SELECT key FROM papers ORDER BY id LIMIT 5")]
    conn.close()
    return found


def assert_clear_answer(response) -> None:
    label = f"{response.request.method} {response.request.url}"
    assert response.status_code in CLEAR_ANSWERS, f"{response.status_code} for {label}: {response.text[:300]}"
    for name in SECURITY_HEADERS:
        assert name.lower() in response.headers, f"no {name} on {label}"
    if 300 <= response.status_code < 400:
        location = response.headers["location"]
        target = urlsplit(urljoin(str(response.request.url), location))
        assert target.netloc == urlsplit(str(response.request.url)).netloc and "\\" not in location, \
            f"{label} redirects off the site: {location!r}"
    check_response(response, path=label)


def fuzz(examples: int):
    return settings(max_examples=examples, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                                           HealthCheck.filter_too_much, HealthCheck.data_too_large])


def view_properties(examples: int):
    @fuzz(examples)
    @given(route=st.sampled_from(["/", "/feed.atom", "/export.bib", "/tags/distillation", "/tags/cs.LG"]),
           params=VIEW_PARAMS, headers=HTMX, method=st.sampled_from(["GET", "GET", "GET", "HEAD"]))
    def search_views(client, route, params, headers, method):
        assert_clear_answer(client.request(method, route, params=params, headers=headers))
    return search_views


def path_properties(examples: int):
    @fuzz(examples)
    @given(data=st.data(), kind=st.sampled_from(["papers", "papers-bib", "related", "tags", "authors", "api",
                                                 "sitemap", "static", "anything"]), headers=HTMX)
    def keyed_pages(client, keys, data, kind, headers):
        segment = data.draw(path_segment())
        known = data.draw(st.sampled_from(keys))
        suffix = data.draw(st.sampled_from(["", "v2", "v0", ".bib", "/", "/slug", "/../x", "%2F..%2Fx", "v2.bib"]))
        url = {
            "papers": f"/papers/{data.draw(st.sampled_from([known, segment]))}{suffix}",
            "papers-bib": f"/papers/{segment}.bib",
            "related": f"/related/{data.draw(st.sampled_from([known, segment]))}{suffix}",
            "tags": f"/tags/{segment}",
            "authors": f"/authors/{segment}",
            "api": f"/api/papers/{data.draw(st.sampled_from([known, segment]))}{suffix}",
            "sitemap": f"/sitemaps/papers-{quote(data.draw(number_text()), safe='%')}.xml",
            "static": f"/static/{segment}",
            "anything": f"/{segment}/{segment}",
        }[kind]
        assert_clear_answer(client.get(url, headers=headers))
    return keyed_pages


test_search_views_answer_clearly_and_parse = view_properties(FUZZ_EXAMPLES)
test_keyed_pages_answer_clearly_and_parse = path_properties(FUZZ_EXAMPLES)
test_search_views_long = pytest.mark.slow(view_properties(FUZZ_EXAMPLES_LONG))
test_keyed_pages_long = pytest.mark.slow(path_properties(FUZZ_EXAMPLES_LONG))


@pytest.mark.parametrize("url", ["/", "/tags", "/robots.txt", "/sitemap.xml", "/sitemaps/pages.xml",
                                 "/sitemaps/papers-1.xml", "/opensearch.xml", "/feed.atom", "/export.bib",
                                 "/health", "/api/tags", "/openapi.json"])
def test_fixed_pages_answer_and_parse(client, url):
    for method in ("GET", "HEAD") if not url.startswith("/api/") else ("GET",):
        response = client.request(method, url)
        assert response.status_code == 200, url
        assert_clear_answer(response)
