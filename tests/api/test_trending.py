"""The "Trending" sort: most upvoted first (daily-papers upvotes), ties and papers without upvotes newest
first; on search, tag and /new pages and in the API; offered only where some paper has upvotes."""

import re

import pytest

import rich_catalogue

TRENDING_FIRST = sorted(rich_catalogue.UPVOTES, key=lambda i: (-rich_catalogue.UPVOTES[i], i))  # i: newer first


def key_of(index: int) -> str:
    return rich_catalogue.records(rich_catalogue.TODAY, upvotes=True)[index]["id"]


def api_all(client, **params) -> list[dict]:
    found = client.get("/api/papers", params={"per_page": 100, **params}).json()
    assert found["total"] <= 100
    return found["results"]


def expected_trending(results: list[dict]) -> list[str]:
    """The trending order of these papers, from their upvotes and dates alone (the API's newest order
    is the tie-break)."""
    newest = list(results)  # given newest first
    return [r["id"] for r in sorted(newest, key=lambda r: (r["upvotes"] is None, -(r["upvotes"] or 0),
                                                           newest.index(r)))]


def test_trending_puts_the_most_upvoted_first_ties_newest_then_the_rest_newest(trending_client):
    results = api_all(trending_client, sort="trending")
    assert [r["id"] for r in results[:len(TRENDING_FIRST)]] == [key_of(i) for i in TRENDING_FIRST]
    assert [r["upvotes"] for r in results[:len(TRENDING_FIRST)]] == [300, 120, 120, 45, 7]
    rest = results[len(TRENDING_FIRST):]
    assert all(r["upvotes"] is None for r in rest)
    newest = [r["id"] for r in api_all(trending_client, sort="newest")]
    assert [r["id"] for r in rest] == [k for k in newest if k in {r["id"] for r in rest}]


@pytest.mark.parametrize("params", [{"q": "learning"}, {"q": "model", "not_tag": "cs.CV"}, {"tag": "cs.CL"}])
def test_trending_orders_any_filtered_view_by_its_papers_upvotes(trending_client, params):
    newest = api_all(trending_client, sort="newest", **params)
    trending = api_all(trending_client, sort="trending", **params)
    assert len(newest) > 3 and {r["id"] for r in trending} == {r["id"] for r in newest}
    assert any(r["upvotes"] for r in newest) and newest[0]["upvotes"] is None  # something to reorder
    assert [r["id"] for r in trending] == expected_trending(newest)


def test_trending_pages_continue_the_same_order(trending_client):
    whole = [r["id"] for r in api_all(trending_client, sort="trending")]
    pages = [r["id"] for page in (1, 2, 3)
             for r in trending_client.get("/api/papers", params={"sort": "trending", "per_page": 3,
                                                                  "page": page}).json()["results"]]
    assert pages == whole[:9]


def test_a_paper_shows_its_upvotes_in_the_api(trending_client):
    assert trending_client.get(f"/api/papers/{key_of(13)}").json()["upvotes"] == 300
    assert trending_client.get(f"/api/papers/{key_of(0)}").json()["upvotes"] is None


def test_without_upvotes_anywhere_trending_is_newest_and_is_not_offered(rich_client):
    newest = [r["id"] for r in api_all(rich_client, sort="newest")]
    assert [r["id"] for r in api_all(rich_client, sort="trending")] == newest
    page = rich_client.get("/").text
    assert "sort=trending" not in page and "Trending" not in page
    asked = rich_client.get("/?sort=trending").text  # a link made elsewhere still says what it shows
    assert re.search(r'<strong aria-current="true">Trending</strong>', asked)


def test_search_and_tag_pages_offer_trending_as_a_plain_link(trending_client):
    for url in ("/", "/?q=model", "/tags/cs.LG"):
        page = trending_client.get(url).text
        link = re.search(r'<a href="([^"]*sort=trending[^"]*)"[^>]*>Trending</a>', page)
        assert link, url
        shown = trending_client.get(link.group(1).replace("&amp;", "&")).text
        assert '<strong aria-current="true">Trending</strong>' in shown, url


def test_rows_show_upvotes_where_known(trending_client):
    page = trending_client.get("/?sort=trending").text
    rows = page.split('<article class="hit"')[1:]
    first = rows[0]
    assert '<span aria-hidden="true">▲ </span>300<span class="visually-hidden"> upvotes</span>' in first
    assert key_of(13) in first
    assert all('class="upvotes"' not in row for row in rows[len(TRENDING_FIRST):])


def test_new_listings_sort_by_trending_and_keep_it_across_pages(trending_client):
    newest = trending_client.get("/new").text
    assert re.search(r'<a href="/new\?sort=trending">Trending</a>', newest)
    trending = trending_client.get("/new?sort=trending")
    assert trending.status_code == 200 and '<strong aria-current="true">Trending</strong>' in trending.text
    listed = re.findall(r'data-key="([^"]+)"', trending.text)
    assert sorted(listed) == sorted(key_of(i) for i in rich_catalogue.LISTED_TODAY)
    assert listed[:2] == [key_of(1), key_of(2)]  # 120 and 7 upvotes, then the two without, newest first
    assert listed[2:] == [k for k in re.findall(r'data-key="([^"]+)"', newest) if k in listed[2:]]
    assert re.findall(r'data-key="([^"]+)"', newest) != listed
    assert 'href="/new?sort=newest"' not in trending.text and 'href="/new">Newest</a>' in trending.text
    assert trending_client.get("/new?sort=upvotes").status_code == 422


def test_trending_is_one_of_the_documented_sorts(trending_client):
    schema = trending_client.get("/openapi.json").json()
    sort = next(p for p in schema["paths"]["/api/papers"]["get"]["parameters"] if p["name"] == "sort")
    assert "trending" in str(sort["schema"])
    assert trending_client.get("/api/papers", params={"sort": "popular"}).status_code == 422
