"""The "Trending" sort in a browser, on a catalogue where a few papers have daily-papers upvotes:
desktop (1280x900) and phone (390x844), with JavaScript and without."""

import re

import pytest
from playwright.sync_api import Page, expect

import rich_catalogue

pytestmark = pytest.mark.browser

DEVICES = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}
MOST_UPVOTED = max(rich_catalogue.UPVOTES, key=rich_catalogue.UPVOTES.get)


def title_of(index: int) -> str:
    return rich_catalogue.records(rich_catalogue.TODAY)[index]["title"]


@pytest.fixture(params=[(device, js) for device in DEVICES for js in (True, False)],
                ids=lambda p: f"{p[0]}-{'js' if p[1] else 'no-js'}")
def trending_page(request, context_factory, trending_server):
    device, js = request.param
    context = context_factory(base_url=trending_server, viewport=DEVICES[device], java_script_enabled=js,
                              has_touch=device == "phone")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    assert errors == []


def test_trending_reorders_the_results_by_upvotes_and_shows_them(trending_page: Page):
    page = trending_page
    page.goto("/")
    first_newest = page.locator(".hit-title").first.inner_text()
    page.get_by_role("link", name="Trending", exact=True).click()
    expect(page).to_have_url(re.compile(r"sort=trending"))
    expect(page.get_by_role("group", name="Sort by").locator("strong")).to_have_text("Trending")
    first = page.locator("article.hit").first
    expect(first.locator(".hit-title")).to_have_text(title_of(MOST_UPVOTED))
    expect(first.locator(".upvotes")).to_be_visible()
    expect(first.locator(".upvotes")).to_have_text(re.compile(r"▲\s*300\s*upvotes"))
    assert first.locator(".hit-title").inner_text() != first_newest
    upvotes = [int(re.sub(r"\D", "", text)) for text in page.locator(".upvotes").all_inner_texts()]
    assert upvotes == sorted(rich_catalogue.UPVOTES.values(), reverse=True)
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0


def test_trending_stays_through_a_search_and_the_next_page(trending_page: Page):
    page = trending_page
    page.goto("/?sort=trending&per_page=3")
    page.locator(".pager a", has_text="2").first.click()
    expect(page).to_have_url(re.compile(r"page=2"))
    expect(page).to_have_url(re.compile(r"sort=trending"))
    expect(page.locator(".upvotes")).to_have_count(2)  # 45 and 7: the fourth and fifth most upvoted


def test_new_listing_offers_trending(trending_page: Page):
    page = trending_page
    page.goto("/new")
    page.get_by_role("link", name="Trending", exact=True).click()
    expect(page).to_have_url(re.compile(r"/new\?sort=trending$"))
    expect(page.locator("article.hit").first.locator(".upvotes")).to_have_text(re.compile(r"120"))


def test_no_trending_where_no_paper_has_upvotes(context_factory, rich_server):
    page = context_factory(base_url=rich_server).new_page()
    for url in ("/", "/new", "/tags/cs.LG"):
        page.goto(url)
        expect(page.get_by_role("link", name="Trending")).to_have_count(0)
        expect(page.locator(".upvotes")).to_have_count(0)
