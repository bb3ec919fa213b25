"""The browsing routes: a facet group in full, dates, new listings, author pages, reading lists.

On the rich catalogue (tests/rich_catalogue.py): paper i of the seed was published i * 4 days ago.
"""

import re
import xml.etree.ElementTree as ET
from datetime import date, timedelta

import bibtexparser
import pytest
import rich_catalogue

ATOM = "{http://www.w3.org/2005/Atom}"
TODAY = rich_catalogue.TODAY


@pytest.fixture(scope="module")
def records():
    return rich_catalogue.records(TODAY)


def hrefs(body: str) -> list[str]:
    return [h.replace("&amp;", "&") for h in re.findall(r'href="([^"]*)"', body)]


def total(client, url: str) -> int:
    text = re.search(r'<h2 id="result-count"[^>]*>(.*?)</h2>', client.get(url).text, re.S).group(1)
    return int(re.search(r"([\d,]+) papers?", text).group(1).replace(",", ""))


def keys_of(body: str) -> list[str]:
    return re.findall(r'<article class="hit" data-key="([^"]+)"', body)


# --- a facet group in full -----------------------------------------------------------------------

def test_search_page_folds_long_groups_after_ten_with_a_link_to_all(client):
    body = client.get("/").text
    group = re.search(r'<section class="facet-group" aria-labelledby="facet-topic".*?</section>', body, re.S).group(0)
    assert group.count('class="facet') - group.count("facet-") >= 0
    assert len(re.findall(r'<li class="facet[" ]', group)) == 10
    link = re.search(r'<a href="([^"]+)" hx-get="[^"]+" hx-target="closest \.facet-group"[^>]*data-show-all>'
                     r"Show all (\d+) topics</a>", group)
    assert link and link.group(1) == "/facets/topic"
    assert int(link.group(2)) == len([t for t in client.get("/api/tags").json() if t["kind"] == "topic" and t["count"]])


def test_show_all_answers_the_whole_group_to_htmx(client):
    fragment = client.get("/facets/topic?q=model", headers={"HX-Request": "true"}).text
    assert fragment.lstrip().startswith('<section class="facet-group is-whole"')
    items = re.findall(r'<li class="facet[" ]', fragment)
    api_topics = {t["slug"] for t in client.get("/api/papers", params={"q": "model", "per_page": 100}).json()
                  ["facets"]["tags"] if t["kind"] == "topic"}
    assert len(items) >= len(api_topics) > 10
    assert "<html" not in fragment
    assert 'href="/?q=model&tag=' in fragment.replace("&amp;", "&")  # each value links to the view


def test_show_all_without_javascript_is_a_page_linking_back_to_the_view(client):
    body = client.get("/facets/topic?q=model&tag=mixture-of-experts").text
    assert "<h1>All topics for “<bdi>model</bdi>”</h1>" in body
    links = hrefs(body)
    assert "/?q=model" in links  # unselect the chosen topic
    assert any(h.startswith("/?q=model&tag=mixture-of-experts&tag=") for h in links)
    assert any(h.startswith("/?q=model&tag=mixture-of-experts&not_tag=") for h in links)


def test_show_all_on_a_tag_page_keeps_the_tag_page(client):
    page = client.get("/facets/topic?within=mixture-of-experts").text
    assert any(h.startswith("/tags/mixture-of-experts?tag=") for h in hrefs(page))


def test_show_all_of_an_unknown_group_is_404(client):
    assert client.get("/facets/nope").status_code == 404
    assert client.get("/facets/topic?within=no-such-tag").status_code == 404


# --- dates ---------------------------------------------------------------------------------------

def test_date_facet_counts_past_week_month_and_year(rich_client, records):
    body = rich_client.get("/").text
    group = re.search(r'aria-labelledby="facet-date".*?</section>', body, re.S).group(0)
    expected = {"Past week": 7, "Past month": 30, "Past year": 365}
    for label, days in expected.items():
        since = TODAY - timedelta(days=days)
        count = sum(1 for r in records if date.fromisoformat(r["published"]) >= since)
        item = next(re.search(r'<a href="([^"]+)".*?<span class="count">([\d,]+)</span>', li, re.S)
                    for li in re.findall(r"<li .*?</li>", group, re.S) if label in li)
        assert item, label
        assert int(item.group(2).replace(",", "")) == count
        assert item.group(1).replace("&amp;", "&") == f"/?from={since.isoformat()}"
        assert total(rich_client, item.group(1).replace("&amp;", "&")) == count


def test_date_range_form_works_as_a_plain_get(rich_client, records):
    body = rich_client.get("/?q=model").text
    form = re.search(r'<form class="date-range" action="([^"]+)" method="get".*?</form>', body, re.S)
    assert form.group(1) == "/"
    assert '<input type="hidden" name="q" value="model">' in form.group(0)
    assert 'type="date" name="from"' in form.group(0) and 'type="date" name="to"' in form.group(0)
    start, end = TODAY - timedelta(days=100), TODAY - timedelta(days=20)
    url = f"/?from={start.isoformat()}&to={end.isoformat()}"
    expected = sum(1 for r in records if start <= date.fromisoformat(r["published"]) <= end)
    assert total(rich_client, url) == expected
    page = rich_client.get(url).text
    assert f"published {start.isoformat()} to {end.isoformat()}" in page  # the pill
    assert f'value="{start.isoformat()}"' in page  # the form shows the range chosen


def test_dates_may_be_months_or_years_and_empty_fields_mean_open(rich_client, records):
    month = TODAY.strftime("%Y-%m")
    expected = sum(1 for r in records if r["published"].startswith(month))
    assert total(rich_client, f"/?from={month}&to={month}") == expected
    assert total(rich_client, "/?from=&to=") == len(records)


@pytest.mark.parametrize("value", ["yesterday", "2026-13-01", "0000-01-01", "2026-1-1-1"])
def test_a_date_that_is_not_one_is_refused(rich_client, value):
    assert rich_client.get(f"/?from={value}").status_code == 422
    assert rich_client.get(f"/api/papers?to={value}").status_code == 422


def test_a_day_past_the_end_of_its_month_is_that_months_last_day(rich_client):
    page = rich_client.get("/?from=2026-02-30").text
    assert "published since 2026-02-28" in page


def test_published_ranges_in_the_query_language(rich_client, records):
    start, end = TODAY - timedelta(days=60), TODAY - timedelta(days=10)
    expected = {r["id"] for r in records if start <= date.fromisoformat(r["published"]) <= end}
    found = rich_client.get("/api/papers", params={"q": f"published:{start}..{end}", "per_page": 100}).json()
    assert {p["id"] for p in found["results"]} == expected
    month = TODAY.strftime("%Y-%m")
    by_month = rich_client.get("/api/papers", params={"q": f"published:{month}", "per_page": 100}).json()
    assert by_month["total"] == sum(1 for r in records if r["published"].startswith(month))
    open_end = rich_client.get("/api/papers", params={"q": f"published:{start}..", "per_page": 1}).json()
    assert open_end["total"] == sum(1 for r in records if date.fromisoformat(r["published"]) >= start)


# --- new listings --------------------------------------------------------------------------------

def test_new_lists_the_latest_listing_day(rich_client, records):
    body = rich_client.get("/new").text
    assert f"New on {TODAY.strftime('%-d %B %Y')}" in body
    assert keys_of(body) == [records[0]["id"]]
    previous = TODAY - timedelta(days=4)
    assert f"/new?day={previous.isoformat()}" in hrefs(body)
    earlier = rich_client.get(f"/new?day={previous.isoformat()}").text
    assert keys_of(earlier) == [records[1]["id"]]
    between = rich_client.get(f"/new?day={(TODAY - timedelta(days=2)).isoformat()}").text
    assert keys_of(between) == [records[1]["id"]]  # a day without papers shows the listing before it


def test_new_per_category_and_topic(rich_client, records):
    category = records[0]["categories"][0]
    body = rich_client.get(f"/new/{category}").text
    assert keys_of(body) == [records[0]["id"]]
    other = next(c for c in rich_catalogue.CATEGORIES if c not in records[0]["categories"])
    assert keys_of(rich_client.get(f"/new/{other}").text) == []
    assert rich_client.get("/new/no-such-thing").status_code == 404


def test_new_has_atom_feeds(rich_client, records):
    for url in ("/new.atom", f"/new/{records[0]['categories'][0]}.atom"):
        response = rich_client.get(url)
        assert response.headers["content-type"].startswith("application/atom+xml")
        feed = ET.fromstring(response.content)
        entries = feed.findall(f"{ATOM}entry")
        assert [e.find(f"{ATOM}title").text for e in entries] == [records[0]["title"]]
    assert 'href="/new.atom"' in rich_client.get("/new").text


# --- author pages --------------------------------------------------------------------------------

def test_author_page_is_paginated_with_facets(rich_client, records):
    name = "Ada Lovelace"
    theirs = [r["id"] for r in records if name in r["authors"]]
    assert len(theirs) > 5
    first = rich_client.get("/authors/ada-lovelace?per_page=5").text
    assert keys_of(first) == theirs[:5]  # newest first
    assert "/authors/ada-lovelace?page=2&per_page=5" in hrefs(first)
    second = rich_client.get("/authors/ada-lovelace?page=2&per_page=5").text
    assert keys_of(second) == theirs[5:10]
    assert 'aria-labelledby="facet-topic"' in first
    assert re.search(r"([\d,]+) papers?", re.search(r'id="result-count"[^>]*>(.*?)</h2>', first, re.S).group(1))
    narrowed = rich_client.get("/authors/ada-lovelace?tag=" + records[0]["categories"][0]).text
    assert set(keys_of(narrowed)) <= set(theirs)


def test_author_page_lists_coauthors_and_topics(rich_client, records):
    body = rich_client.get("/authors/ana-ruiz").text
    assert "written with" in body
    assert '<a href="/authors/omar-haddad">Omar Haddad</a>' in body
    assert "Writes about" in body


def test_a_name_covering_several_people_gets_a_note(rich_client):
    body = rich_client.get("/authors/wei-zhang").text
    note = re.search(r'<p class="notice">This name may cover (\d) different people.*?</p>', body, re.S)
    assert note and note.group(1) == "2"
    assert "Ana Ruiz" in note.group(0) and "Lena Fischer" in note.group(0)
    assert "This name may cover" not in rich_client.get("/authors/ana-ruiz").text


# --- reading lists -------------------------------------------------------------------------------

def test_a_reading_list_shows_its_papers_in_order_under_its_title(rich_client, records):
    keys = [records[5]["id"], records[2]["id"], records[9]["id"]]
    body = rich_client.get("/list", params={"ids": ",".join(keys), "title": "For Monday"}).text
    assert "<h1><bdi>For Monday</bdi></h1>" in body
    assert keys_of(body) == keys
    assert f"/list.bib?ids={','.join(keys)}&title=For+Monday" in hrefs(body)
    assert f"/list?ids={keys[0]},{keys[2]}&title=For+Monday" in hrefs(body)  # remove the second


def test_a_form_of_ticked_papers_redirects_to_the_one_address_of_the_list(rich_client, records):
    keys = [records[3]["id"], records[1]["id"]]
    response = rich_client.get(f"/list?ids={keys[0]}&ids={keys[1]}&ids={keys[0]}", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == f"/list?ids={keys[0]},{keys[1]}"


def test_a_reading_list_names_what_it_cannot_find(rich_client, records):
    body = rich_client.get("/list", params={"ids": f"{records[0]['id']},9999.99999"}).text
    assert keys_of(body) == [records[0]["id"]]
    assert "Not in the catalogue: <code>9999.99999</code>" in body


def test_a_reading_list_exports_bibtex_and_atom(rich_client, records):
    keys = [records[4]["id"], records[7]["id"]]
    bib = rich_client.get("/list.bib", params={"ids": ",".join(keys)})
    assert bib.headers["content-type"].startswith("application/x-bibtex")
    entries = bibtexparser.parse_string(bib.text).entries
    assert [e["eprint"] for e in entries] == keys
    feed = ET.fromstring(rich_client.get("/list.atom", params={"ids": ",".join(keys), "title": "Mine"}).content)
    assert feed.find(f"{ATOM}title").text.endswith("Mine")
    assert [e.find(f"{ATOM}title").text for e in feed.findall(f"{ATOM}entry")] == [records[4]["title"],
                                                                                 records[7]["title"]]


def test_an_empty_reading_list_says_how_to_make_one(rich_client):
    body = rich_client.get("/list").text
    assert "This list is empty" in body


def test_result_rows_offer_a_tick_for_the_reading_list(rich_client):
    body = rich_client.get("/").text
    assert '<form id="list-form" class="list-form" action="/list" method="get">' in body
    assert len(re.findall(r'<input type="checkbox" name="ids" value="[^"]+" form="list-form"', body)) == 20
