"""Issue 16 as the web sees it: a query past a bound of the cost model is refused at once (422 naming the
limit in the API, the reason on the page), numbers of any size in a query never cause a 500, and the
sitemaps are rendered once per state of the catalogue."""

import pytest

from app import papers
from app.search.cost import MAX_PREFIX_TERMS

SEARCH_ROUTES = ["/", "/api/papers", "/feed.atom", "/export.bib", "/tags/mixture-of-experts"]


@pytest.mark.parametrize("q", ["year:[0 TO 99999999999999999999] OR tag:cs.LG", "-year:>=9223372036854775808",
                               "published:99999-99-99", "year:<" + "9" * 400, "id:" + "9" * 300])
@pytest.mark.parametrize("path", SEARCH_ROUTES)
def test_numbers_of_any_size_in_a_query_are_answered(client, path, q):
    assert client.get(path, params={"q": q}).status_code == 200


@pytest.mark.parametrize("operator", ["ANDNOT", "ANDMAYBE", "REQUIRE"])
def test_a_chain_of_binary_operators_is_answered(client, operator):
    assert client.get("/api/papers", params={"q": f"a {operator} " * 22 + "b"}).status_code == 200


def test_a_long_chain_of_exclusions_excludes(client):
    words = "agent reasoning diffusion robot graph vision speech image video code math".split()
    chain = client.get("/api/papers", params={"q": " ANDNOT ".join(["model", *words])})
    minus = client.get("/api/papers", params={"q": " -".join(["model", *words])})
    assert chain.status_code == 200 and chain.json()["total"] == minus.json()["total"] > 0


@pytest.mark.parametrize("path", ["/api/papers", "/"])
def test_a_query_nested_past_the_bound_is_refused(client, path):
    response = client.get(path, params={"q": "(" * 13 + "network OR graph" + ")" * 13})
    assert response.status_code == 422
    assert "nest at most 12" in (response.json()["detail"] if path == "/api/papers" else response.text)


def test_the_api_refuses_a_query_past_a_bound_naming_the_limit(client):
    response = client.get("/api/papers", params={"q": "a ANDNOT " * 40 + "b"})
    assert response.status_code == 422
    body = response.json()
    assert body["limit"] == "max_operators" and "at most 24" in body["detail"]


@pytest.mark.parametrize("headers", [{}, {"HX-Request": "true"}])
def test_the_search_page_says_why_a_query_was_refused(client, headers):
    q = " OR ".join(f"w{i}" for i in range(25))
    response = client.get("/", params={"q": q}, headers=headers)
    assert response.status_code == 422
    assert 'id="results"' in response.text and "This query was not run" in response.text
    assert "alternatives joined by OR" in response.text and "at most 24" in response.text
    if not headers:
        assert f'value="{q}"' in response.text  # the query stays in the box, to be edited


def test_a_prefix_standing_for_too_many_words_is_refused(client, monkeypatch):
    from app.search import cost
    monkeypatch.setattr(cost, "MAX_PREFIX_TERMS", 2)  # the seed catalogue has few words per prefix
    response = client.get("/api/papers", params={"q": "mod*"})
    assert response.status_code == 422 and response.json()["limit"] == "max_prefix_terms"
    assert MAX_PREFIX_TERMS > 2


def test_a_word_being_typed_that_stands_for_too_many_words_waits_for_more_letters(client, monkeypatch):
    from app.search import cost
    monkeypatch.setattr(cost, "MAX_PREFIX_TERMS", 2)
    response = client.get("/", params={"q": "mod"}, headers={"HX-Request": "true", "HX-Live": "1"})
    assert response.status_code == 200 and "This query was not run" not in response.text


def test_sitemaps_are_rendered_once_per_state_of_the_catalogue(client, monkeypatch):
    calls = []
    rows = papers.sitemap_rows
    monkeypatch.setattr(papers, "sitemap_rows", lambda *a: calls.append(a) or rows(*a))
    first = client.get("/sitemap.xml")
    second = client.get("/sitemap.xml")
    assert first.status_code == second.status_code == 200 and first.text == second.text
    assert len(calls) <= 1


def test_the_bound_counts_the_papers_a_query_ranks_not_the_postings_it_reads(client, monkeypatch):
    from app.search import cost, ranking
    monkeypatch.setattr(ranking, "known", lambda cat, words: False)  # every word as never scored
    totals = {w: client.get("/api/papers", params={"q": w}).json()["total"] for w in ("attention", "training")}
    assert all(totals.values())
    monkeypatch.setattr(cost, "MAX_SCORED", max(totals.values()))
    # An OR ranks the papers of both sides: past the bound.
    refused = client.get("/api/papers", params={"q": "attention OR training"})
    assert refused.status_code == 422 and refused.json()["limit"] == "max_postings"
    assert "rank" in refused.json()["detail"]
    # An AND ranks at most its rarer word's papers: answered, whatever the postings it reads.
    assert client.get("/api/papers", params={"q": "attention training"}).status_code == 200
    # A lone word is scored once per catalogue state and kept: answered however common it is.
    monkeypatch.setattr(cost, "MAX_SCORED", 0)
    assert client.get("/api/papers", params={"q": "training"}).status_code == 200
