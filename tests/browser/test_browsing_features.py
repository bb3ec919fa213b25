"""Show all, dates, new listings, author pages and reading lists in a real browser, with and without JS.

The `rich_page` fixture runs a test at desktop and phone sizes, light and dark.
"""

import re
from datetime import date, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import rich_catalogue
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser


def settle(page: Page) -> None:
    expect(page.locator(".htmx-request")).to_have_count(0)


def open_filters(page: Page) -> None:
    if getattr(page, "device", "desktop") == "phone":
        page.locator("[data-open-filters]").click()
        expect(page.locator(".facets")).to_be_visible()


def keys(page: Page) -> list[str]:
    return page.locator(".hit-list .hit").evaluate_all("rows => rows.map(r => r.dataset.key)")


@pytest.fixture
def plain(context_factory, rich_server):
    """A page with JavaScript off."""
    return context_factory(base_url=rich_server, java_script_enabled=False).new_page()


# --- show all ------------------------------------------------------------------------------------

def test_show_all_loads_the_whole_group_in_place(rich_page: Page):
    page = rich_page
    page.goto("/")
    open_filters(page)
    topics = page.locator(".facet-group[data-kind='topic']")
    expect(topics.locator("li.facet")).to_have_count(10)
    link = topics.get_by_role("link", name=re.compile(r"Show all \d+ topics"))
    wanted = int(re.search(r"\d+", link.inner_text()).group(0))
    url = page.url
    link.click()
    expect(page.locator(".facet-group[data-kind='topic'] li.facet")).to_have_count(wanted)
    assert page.url == url  # the view did not change, only the group grew
    expect(page.locator(".facet-group[data-kind='topic'] [data-show-all]")).to_have_count(0)
    page.locator(".facet-group[data-kind='topic'] a.facet-toggle").nth(wanted - 1).click()
    expect(page).to_have_url(re.compile(r"tag="))


def test_the_filter_box_reaches_values_beyond_the_fold(rich_page: Page):
    page = rich_page
    page.goto("/")
    open_filters(page)
    box = page.get_by_label("Filter topics")
    folded = page.locator(".facet-group[data-kind='topic'] li.facet[data-facet='graph-neural-networks']")
    expect(folded).to_have_count(0)  # beyond the first ten
    box.press_sequentially("graph", delay=20)
    expect(page.locator(".facet-group[data-kind='topic'] li.facet:visible")).to_have_count(1)
    expect(page.get_by_label("Filter topics")).to_have_value("graph")
    expect(page.get_by_label("Filter topics")).to_be_focused()
    page.locator(".facet-group[data-kind='topic'] li.facet:visible a.facet-toggle").click()
    expect(page).to_have_url(re.compile(r"tag=graph-neural-networks"))


def test_show_all_without_javascript(plain: Page):
    plain.goto("/?q=language")
    plain.get_by_role("link", name=re.compile(r"Show all \d+ topics")).click()
    expect(plain.locator("h1")).to_have_text("All topics for “language”")
    count = plain.locator("li.facet").count()
    assert count > 10
    last = plain.locator("li.facet a.facet-toggle").nth(count - 1)
    slug = last.locator("xpath=..").get_attribute("data-facet")
    last.click()
    assert parse_qs(urlsplit(plain.url).query) == {"q": ["language"], "tag": [slug]}
    expect(plain.locator(".active-filters")).to_be_visible()


# --- dates ---------------------------------------------------------------------------------------

def test_past_week_narrows_the_results(rich_page: Page):
    page = rich_page
    page.goto("/")
    open_filters(page)
    week = page.locator(".facet-group[data-kind='date'] a.facet-toggle", has_text="Past week")
    count = int(week.locator(".count").inner_text())
    week.click()
    since = (date.today() - timedelta(days=7)).isoformat()
    expect(page).to_have_url(re.compile(rf"from={since}"))
    settle(page)
    expect(page.locator("#result-count")).to_contain_text(f"{count} paper")
    expect(page.locator(".active-filters")).to_contain_text(f"since {since}")


def test_the_date_range_form_with_javascript(rich_page: Page):
    page = rich_page
    page.goto("/")
    open_filters(page)
    start, end = rich_catalogue.TODAY - timedelta(days=40), rich_catalogue.TODAY - timedelta(days=20)
    page.get_by_label("From", exact=True).fill(start.isoformat())
    page.get_by_label("To", exact=True).fill(end.isoformat())
    page.get_by_role("button", name="Apply dates").click()
    expect(page).to_have_url(re.compile(rf"from={start}&to={end}$"))
    settle(page)
    records = rich_catalogue.records(rich_catalogue.TODAY)
    expected = [r["id"] for r in records if start <= date.fromisoformat(r["published"]) <= end]
    assert keys(page) == expected


def test_the_date_range_form_without_javascript(plain: Page):
    plain.goto("/?q=language")
    start, end = date.today() - timedelta(days=200), date.today() - timedelta(days=100)
    plain.get_by_label("From", exact=True).fill(start.isoformat())
    plain.get_by_label("To", exact=True).fill(end.isoformat())
    plain.get_by_role("button", name="Apply dates").click()
    plain.wait_for_url(re.compile(r"from="))
    query = parse_qs(urlsplit(plain.url).query)
    assert query["q"] == ["language"] and query["from"] == [start.isoformat()] and query["to"] == [end.isoformat()]
    dates = plain.locator(".hit time").evaluate_all("ts => ts.map(t => t.getAttribute('datetime'))")
    assert dates and all(start.isoformat() <= d <= end.isoformat() for d in dates)


# --- new listings, author pages ------------------------------------------------------------------

def test_new_listing_and_its_previous_day(rich_page: Page):
    page = rich_page
    page.goto("/")
    page.get_by_role("link", name="New", exact=True).click()
    expect(page.locator("h1")).to_contain_text("New on")
    first = keys(page)
    page.get_by_role("link", name=re.compile(r"Listing of")).click()
    expect(page).to_have_url(re.compile(r"/new\?day="))
    assert keys(page) and keys(page) != first


def test_author_page_pages_and_filters_in_place(rich_page: Page):
    page = rich_page
    page.goto("/authors/ada-lovelace?per_page=5")
    expect(page.locator("h1")).to_have_text("Ada Lovelace")
    first = keys(page)
    page.locator(".pager").get_by_role("link", name="Next ›").click()
    expect(page).to_have_url(re.compile(r"/authors/ada-lovelace\?page=2&per_page=5$"))
    settle(page)
    assert keys(page) and not set(keys(page)) & set(first)
    expect(page.locator("h1")).to_have_text("Ada Lovelace")


def test_several_people_note_on_a_shared_name(rich_page: Page):
    page = rich_page
    page.goto("/authors/wei-zhang")
    expect(page.locator(".author-head .notice")).to_contain_text("may cover 2 different people")


# --- reading lists -------------------------------------------------------------------------------

def test_ticked_papers_make_a_shareable_list_across_pages(rich_page: Page):
    page = rich_page
    page.goto("/")
    rows = page.locator(".hit-list .hit")
    chosen = [rows.nth(0).get_attribute("data-key"), rows.nth(2).get_attribute("data-key")]
    rows.nth(0).get_by_label("Add to list").check()
    rows.nth(2).get_by_label("Add to list").check()
    tray = page.locator("[data-tray]")
    expect(tray).to_contain_text("2 papers in your reading list")
    page.locator(".pager").get_by_role("link", name="Next ›").click()
    expect(page).to_have_url(re.compile(r"page=2"))
    settle(page)
    third = page.locator(".hit-list .hit").first
    chosen.append(third.get_attribute("data-key"))
    third.get_by_label("Add to list").check()
    expect(tray).to_contain_text("3 papers")
    page.reload()
    expect(page.locator(".hit-list .hit").first.get_by_label("Add to list")).to_be_checked()  # kept
    tray.get_by_role("link", name="Open the reading list").click()
    expect(page).to_have_url(re.compile(r"/list\?ids="))
    assert keys(page) == chosen
    page.get_by_label("Name of the list").fill("Week 48")
    page.get_by_role("button", name="Rename").click()
    expect(page.locator("h1")).to_have_text("Week 48")
    assert parse_qs(urlsplit(page.url).query) == {"ids": [",".join(chosen)], "title": ["Week 48"]}
    tray.get_by_role("button", name="Clear").click()
    expect(tray).to_be_hidden()


def test_a_reading_list_without_javascript(plain: Page):
    plain.goto("/?q=language")
    rows = plain.locator(".hit-list .hit")
    chosen = [rows.nth(1).get_attribute("data-key"), rows.nth(3).get_attribute("data-key")]
    rows.nth(1).get_by_label("Add to list").check()
    rows.nth(3).get_by_label("Add to list").check()
    plain.get_by_role("button", name="Open a reading list of the ticked papers").click()
    plain.wait_for_url(re.compile(r"/list\?ids="))
    assert parse_qs(urlsplit(plain.url).query) == {"ids": [",".join(chosen)]}
    assert keys(plain) == chosen
    bib = plain.get_by_role("link", name="BibTeX of the list").get_attribute("href")
    assert bib == f"/list.bib?ids={','.join(chosen)}"
    plain.get_by_role("link", name=re.compile("Remove from the list")).first.click()
    assert keys(plain) == chosen[1:]
