"""The JSON API: its exact shape, its errors (422 and 404, never 500), ids with slashes, aliases."""

import json
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit"))
from search_fixtures import PAPERS, catalogue, fixture_database, load  # noqa: E402, F401

from app.main import create_app  # noqa: E402
from app.results import MAX_PAGE, MAX_PER_PAGE, SearchParams  # noqa: E402

SEARCH_KEYS = {"query", "total", "page", "per_page", "results", "facets", "suggestion", "corrected_query"}
RESULT_KEYS = {"id", "title", "abstract", "authors", "published", "url", "tags", "snippet", "upvotes"}
FACET_KEYS = {"slug", "name", "kind", "count", "selected"}


@pytest.fixture
def api(catalogue):
    with TestClient(create_app(), follow_redirects=False) as client:
        yield client


def test_search_answers_the_documented_shape(api):
    body = api.get("/api/papers", params={"q": "experts"}).json()
    assert set(body) == SEARCH_KEYS
    assert (body["query"], body["total"], body["page"], body["per_page"]) == ("experts", 5, 1, 20)
    assert body["results"] and all(set(r) == RESULT_KEYS for r in body["results"])
    assert set(body["facets"]) == {"tags"}
    assert body["facets"]["tags"] and all(set(f) == FACET_KEYS for f in body["facets"]["tags"])
    assert body["suggestion"] is None


def test_a_result_carries_its_paper(api):
    result = api.get("/api/papers", params={"q": "id:2510.00029"}).json()["results"][0]
    assert result["id"] == "2510.00029" and result["url"] == "/papers/2510.00029"
    assert result["authors"] == ["Ashish Vaswani", "Noam Shazeer"] and result["published"] == "2025-10-10"
    assert {"slug": "cs.LG", "name": "Machine Learning", "kind": "category"} in result["tags"]


def test_snippets_are_escaped_html_with_marks(api):
    result = api.get("/api/papers", params={"q": "robustness parsers"}).json()["results"][0]
    assert "<mark>" in result["snippet"] and "<img" not in result["snippet"]
    assert result["title"].startswith("<script>")  # plain text fields are the data as it is


def test_tags_years_sort_and_paging_parameters(api):
    body = api.get("/api/papers", params=[("tag", "cs.LG"), ("tag", "cs.CL"), ("not_tag", "cs.AI"),
                                          ("year", "2024"), ("year", "2025"), ("sort", "oldest"),
                                          ("per_page", "2"), ("page", "2")]).json()
    assert body["page"] == 2 and body["per_page"] == 2 and len(body["results"]) <= 2
    selected = {f["slug"] for f in body["facets"]["tags"] if f["selected"]}
    assert selected == {"cs.LG", "cs.CL"}
    for r in body["results"]:
        slugs = {t["slug"] for t in r["tags"]}
        assert {"cs.LG", "cs.CL"} <= slugs and "cs.AI" not in slugs and r["published"][:4] in ("2024", "2025")


def test_a_misspelling_gets_a_suggestion(api):
    assert api.get("/api/papers", params={"q": "distilation"}).json()["suggestion"] == "distillation"


@pytest.mark.parametrize("params, field", [
    ({"page": "0"}, "page"), ({"page": "-1"}, "page"), ({"page": "x"}, "page"),
    ({"per_page": "0"}, "per_page"), ({"per_page": "101"}, "per_page"), ({"per_page": "10000"}, "per_page"),
    ({"sort": "sideways"}, "sort"), ({"year": "soon"}, "year")])
def test_bad_parameters_answer_422_naming_the_parameter(api, params, field):
    response = api.get("/api/papers", params=params)
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert any(field in error["loc"] and error["msg"] for error in detail)


@pytest.mark.parametrize("path", ["/api/papers", "/", "/feed.atom", "/export.bib"])
def test_the_edge_holds_the_one_set_of_limits_a_view_checks(api, path):
    """What the edge accepts, SearchParams accepts; one past it is a 422 at the edge, never a
    clamped view or a 500 from the view's own check."""
    for name, highest in (("page", MAX_PAGE), ("per_page", MAX_PER_PAGE)):
        assert api.get(path, params={"q": "experts", name: highest}).status_code == 200
        SearchParams(**{name: highest})
        assert api.get(path, params={"q": "experts", name: highest + 1}).status_code == 422
        with pytest.raises(ValueError):
            SearchParams(**{name: highest + 1})



@pytest.mark.parametrize("q", ['"', "AND", "*", "title:", "C++", "'; DROP TABLE papers; --", "x" * 7_000,
                               "\x00", "🦜", "tag:", "year:abc", "id:"])
def test_hostile_queries_never_fail(api, q):
    response = api.get("/api/papers", params={"q": q})
    assert response.status_code == 200 and set(response.json()) == SEARCH_KEYS


@pytest.mark.parametrize("field, value", [("title", "experts"), ("abstract", "experts"), ("author", "lovelace"),
                                          ("authors", "lovelace"), ("tag", "cs.LG"), ("year", "2024"),
                                          ("published", "2024"), ("id", "2401.00001")])
def test_field_names_are_read_in_any_case(api, field, value):
    # Phones capitalise the first letter: "Title:robot" is title:robot, not the words "title robot".
    def ids(q):
        return [p["id"] for p in api.get("/api/papers", params={"q": q, "per_page": 100}).json()["results"]]
    expected = ids(f"{field}:{value}")
    assert expected and ids(f"{field.capitalize()}:{value}") == ids(f"{field.upper()}:{value}") == expected


@pytest.mark.parametrize("asked", ["cs.lg", "CS.LG", "Cs.Lg"])
def test_a_category_page_asked_in_another_case_redirects_to_its_slug(api, asked):
    response = api.get(f"/tags/{asked}", follow_redirects=False)
    assert response.status_code == 301 and response.headers["location"] == "/tags/cs.LG"
    assert api.get("/tags/cs.LG").status_code == 200


def test_groups_nested_past_the_bound_are_refused_naming_it(api):
    response = api.get("/api/papers", params={"q": "(" * 100})
    assert response.status_code == 422 and response.json()["limit"] == "max_nesting"


def test_one_paper_by_id(api):
    body = api.get("/api/papers/2401.00001").json()
    assert body["id"] == "2401.00001" and body["title"] == "Sparse Mixture-of-Experts Layers at Scale"
    assert body["authors"] == ["Ada Lovelace", "Alan Turing"] and body["url"] == "/papers/2401.00001"
    assert body["arxiv_id"] == "2401.00001" and body["categories"] == ["cs.LG", "cs.CL"]


def test_an_old_style_id_with_a_slash(api):
    assert api.get("/api/papers/hep-th/9901001").json()["id"] == "hep-th/9901001"


def test_a_versioned_arxiv_id_redirects_to_the_paper(api):
    response = api.get("/api/papers/2401.00001v2")
    assert response.status_code == 301 and response.headers["location"] == "/api/papers/2401.00001"


def test_an_unknown_id_is_a_json_404(api):
    response = api.get("/api/papers/0000.00000")
    assert response.status_code == 404 and "0000.00000" in response.json()["detail"]


def test_an_alias_redirects_to_the_current_id(database, tmp_path):
    first, second = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    record = {"title": "A Paper First Seen Without an Id", "abstract": "Later it gains an arXiv id."}
    first.write_text(json.dumps(record) + "\n")
    second.write_text(json.dumps({**record, "id": "2609.00001"}) + "\n")
    load(database, files=(first,))
    with TestClient(create_app(), follow_redirects=False) as client:
        old_key = client.get("/api/papers").json()["results"][0]["id"]
        load(database, files=(second,))
        response = client.get(f"/api/papers/{old_key}")
        assert response.status_code == 301 and response.headers["location"] == "/api/papers/2609.00001"
        assert client.get(response.headers["location"]).json()["id"] == "2609.00001"


def test_tags_list_every_tag_with_its_count(api):
    tags = api.get("/api/tags").json()
    assert tags and all(set(t) == {"slug", "name", "kind", "description", "rule", "count"} for t in tags)
    by_slug = {t["slug"]: t for t in tags}
    assert by_slug["cs.DC"]["count"] == 2 and by_slug["cs.DC"]["kind"] == "category"
    topics = [t for t in tags if t["kind"] == "topic"]
    assert topics and all(t["rule"] for t in topics)
    assert [t["kind"] for t in tags] == sorted((t["kind"] for t in tags), key=lambda k: k != "topic")


def test_the_openapi_schema_documents_the_routes(api):
    schema = api.get("/openapi.json").json()
    assert {"/api/papers", "/api/papers/{key}", "/api/tags"} <= set(schema["paths"])
    search_schema = schema["components"]["schemas"]["SearchOut"]
    assert set(search_schema["properties"]) == SEARCH_KEYS


def test_browsing_without_a_query_is_newest_first(api):
    body = api.get("/api/papers", params={"per_page": "100"}).json()
    assert body["total"] == PAPERS
    dates = [r["published"] for r in body["results"] if r["published"]]
    assert dates == sorted(dates, reverse=True)


def test_a_query_that_finds_nothing_is_answered_with_its_correction(api):
    body = api.get("/api/papers", params={"q": "paralelism"}).json()
    assert body["corrected_query"] == "parallelism" and body["total"] > 0 and body["query"] == "paralelism"


def test_as_typed_searches_the_words_as_typed(api):
    body = api.get("/api/papers", params={"q": "paralelism", "as_typed": "true"}).json()
    assert body["corrected_query"] is None and body["total"] == 0 and body["suggestion"] == "parallelism"
