"""Browsing as researchers do, on a catalogue with authors, ids, categories and dates.

Each behaviour runs at desktop (1280x900) and phone (390x844) sizes, in light and dark
(the `rich_page` fixture), unless it belongs to one of them.
"""

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser

TOPIC = "mixture-of-experts"


def settle(page: Page) -> None:
    """Until htmx has no request in flight (a locator, not a polled script: the CSP forbids eval)."""
    expect(page.locator(".htmx-request")).to_have_count(0)


def open_filters(page: Page) -> None:
    """On a phone the filters are a drawer behind the search bar's button."""
    if page.device == "phone":
        page.locator("[data-open-filters]").click()
        expect(page.locator(".facets")).to_be_visible()


def requests_during(page: Page, action) -> list[str]:
    seen: list[str] = []
    listener = seen.append
    page.on("request", lambda request: listener(request.url))
    action()
    page.wait_for_timeout(300)
    return seen


# --- while loading ------------------------------------------------------------------------------

def test_results_are_dimmed_while_a_request_is_in_flight(rich_page: Page):
    page = rich_page
    page.goto("/")
    page.route(re.compile(r"/\?q=routing"), lambda route: (page.wait_for_timeout(1200), route.continue_()))
    results = page.locator("#results")
    assert float(results.evaluate("e => getComputedStyle(e).opacity")) == 1
    page.locator("#q").fill("routing")
    expect(page.locator("#busy")).to_have_class(re.compile("htmx-request"))
    page.wait_for_timeout(500)  # past the dimming's delay, so quick answers never flicker
    assert float(results.evaluate("e => getComputedStyle(e).opacity")) < 0.7
    settle(page)
    page.wait_for_timeout(400)
    assert float(page.locator("#results").evaluate("e => getComputedStyle(e).opacity")) == 1


# --- result rows --------------------------------------------------------------------------------

def test_et_al_shows_the_other_authors_in_place(rich_page: Page):
    page = rich_page
    page.goto("/")  # newest first: the paper with fourteen authors
    row = page.locator(".hit").first
    expect(row.locator(".authors a[href^='/authors/']:visible")).to_have_count(4)
    url = page.url
    row.locator(".et-al").click()
    expect(row.locator(".et-al")).to_have_count(0)
    expect(row.locator(".authors a[href^='/authors/']:visible")).to_have_count(14)
    expect(row.locator(".authors-rest a").first).to_be_focused()
    assert page.url == url


def test_an_author_link_leads_to_the_author_page(rich_page: Page):
    page = rich_page
    page.goto("/")
    link = page.locator(".hit .authors a").first
    name = link.inner_text()
    link.click()
    expect(page.locator("h1")).to_have_text(name)


def test_whole_abstract_opens_in_place_without_a_request(rich_page: Page):
    page = rich_page
    page.goto("/?q=experts")
    row = page.locator(".hit").first
    snippet = row.locator(".snippet")
    expect(snippet).to_be_visible()
    seen = requests_during(page, lambda: row.locator(".abstract-more summary").click())
    assert seen == []
    expect(row.locator(".abstract-full")).to_be_visible()
    expect(snippet).to_be_hidden()
    expect(row.locator(".abstract-full mark").first).to_be_visible()
    row.locator(".abstract-more summary").click()
    expect(snippet).to_be_visible()


def test_arxiv_and_pdf_links_in_each_row(rich_page: Page):
    page = rich_page
    page.goto("/")
    for row in page.locator(".hit").all()[:5]:
        arxiv = row.locator("a.arxiv-id")
        number = arxiv.inner_text().removeprefix("arXiv:")
        assert arxiv.get_attribute("href") == f"https://arxiv.org/abs/{number}"
        expect(row.get_by_role("link", name=f"PDF of arXiv {number}")).to_have_attribute(
            "href", f"https://arxiv.org/pdf/{number}")
        expect(row.locator("time")).to_be_visible()


def test_cite_copies_the_rows_bibtex(rich_page: Page):
    page = rich_page
    page.goto("/")
    row = page.locator(".hit").first
    number = row.locator("a.arxiv-id").inner_text().removeprefix("arXiv:")
    url = page.url
    row.locator("a.cite").click()
    expect(row.locator("a.cite")).to_have_text("Copied")
    expect(page.locator("#announce")).to_have_text("BibTeX copied")
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied.startswith("@") and number in copied
    assert page.url == url
    expect(row.locator("a.cite")).to_have_text("Cite", timeout=3000)


# --- keyboard -----------------------------------------------------------------------------------

def test_j_and_k_move_through_results_and_enter_opens_one(rich_page: Page):
    page = rich_page
    page.goto("/")
    page.locator("#result-count").click()
    titles = page.locator(".hit-list [data-hit-link]")
    page.keyboard.press("j")
    expect(titles.nth(0)).to_be_focused()
    page.keyboard.press("j")
    page.keyboard.press("j")
    expect(titles.nth(2)).to_be_focused()
    expect(page.locator(".hit.is-current")).to_have_count(1)
    page.keyboard.press("k")
    expect(titles.nth(1)).to_be_focused()
    title = titles.nth(1).inner_text()
    page.keyboard.press("Enter")
    expect(page.locator("h1")).to_have_text(title)


def test_question_mark_lists_the_shortcuts(rich_page: Page):
    page = rich_page
    page.goto("/")
    page.locator("#result-count").click()
    page.keyboard.press("?")
    dialog = page.get_by_role("dialog", name="Keyboard shortcuts")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("Next and previous result")
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    page.keyboard.press("/")
    expect(page.locator("#q")).to_be_focused()


# --- facets -------------------------------------------------------------------------------------

def test_include_and_exclude_controls_say_what_they_do(rich_page: Page):
    page = rich_page
    page.goto("/")
    open_filters(page)
    row = page.locator('.facet[data-facet="instruction-tuning"]')
    expect(row.get_by_role("link", name="Exclude Instruction tuning")).to_have_attribute(
        "title", "Exclude papers in Instruction tuning")
    expect(row.locator("a.facet-toggle")).to_have_attribute("title", "Only papers in Instruction tuning")
    row.get_by_role("link", name="Exclude Instruction tuning").click()
    settle(page)
    open_filters(page)
    row = page.locator('.facet[data-facet="instruction-tuning"]')
    expect(row).to_have_class(re.compile("is-excluded"))
    expect(row.get_by_role("link", name="Stop excluding Instruction tuning")).to_be_visible()
    expect(page.locator(".active-filters")).to_contain_text("not Instruction tuning")


def test_excluding_leaves_the_excluded_row_under_the_pointer(context_factory, rich_server):
    page = context_factory(base_url=rich_server).new_page()
    page.goto("/")
    rows = page.locator(".facet-group[data-kind='topic'] .facet")
    target = rows.nth(2)
    slug = target.get_attribute("data-facet")
    box = target.locator("a.facet-exclude").bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.up()
    expect(page).to_have_url(re.compile(rf"not_tag={slug}"))
    settle(page)
    under = page.evaluate("([x, y]) => document.elementFromPoint(x, y).closest('.facet').dataset.facet", [x, y])
    assert under == slug  # the next row's control did not slide under the pointer


# --- phone --------------------------------------------------------------------------------------

@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_phone_filter_drawer_closes_on_a_choice_and_shows_the_results(context_factory, rich_server, scheme):
    page = context_factory(base_url=rich_server, viewport={"width": 390, "height": 844}, color_scheme=scheme,
                           has_touch=True).new_page()
    page.goto("/?q=language")
    facets = page.locator(".facets")
    expect(facets).to_be_hidden()  # no panel pushing the results down
    hits_top = page.locator(".hits").bounding_box()["y"]
    assert hits_top < 844 / 2
    page.locator("[data-open-filters]").tap()
    expect(facets).to_be_visible()
    assert facets.bounding_box()["x"] == 0
    choice = page.locator(".facet-group[data-kind='topic'] a.facet-toggle").nth(1)
    name = choice.locator(".facet-label").inner_text()
    choice.tap()
    expect(page).to_have_url(re.compile(r"tag="))
    settle(page)
    expect(facets).to_be_hidden()
    expect(page.locator(".active-filters")).to_contain_text(name)
    top = page.locator(".hits").bounding_box()["y"]
    assert 0 <= top < 844 / 2, top
    expect(page.locator("[data-open-filters]")).to_have_text("Filters (1)")


def test_phone_drawer_closes_on_its_backdrop_and_button(context_factory, rich_server):
    page = context_factory(base_url=rich_server, viewport={"width": 390, "height": 844}, has_touch=True).new_page()
    page.goto("/")
    page.locator("[data-open-filters]").tap()
    expect(page.locator(".facets")).to_be_visible()
    page.mouse.click(370, 400)  # the backdrop, right of the drawer
    expect(page.locator(".facets")).to_be_hidden()
    page.locator("[data-open-filters]").tap()
    page.get_by_role("button", name="Show results").tap()
    expect(page.locator(".facets")).to_be_hidden()


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_phone_search_bar_stays_in_reach(context_factory, rich_server, scheme):
    page = context_factory(base_url=rich_server, viewport={"width": 390, "height": 844},
                           color_scheme=scheme).new_page()
    page.goto("/")
    page.mouse.wheel(0, 3000)
    page.wait_for_timeout(300)
    assert page.evaluate("window.scrollY") > 1000
    box = page.locator("#q").bounding_box()
    assert 0 <= box["y"] < 80
    expect(page.locator("[data-open-filters]")).to_be_in_viewport()


CLIP_CHECK = """() => {
  const clipped = [];
  const canvas = document.createElement('canvas').getContext('2d');
  for (const input of document.querySelectorAll('input[placeholder]')) {
    if (!input.offsetParent) continue;
    const style = getComputedStyle(input);
    canvas.font = style.font;
    const room = input.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
    if (canvas.measureText(input.placeholder).width > room) clipped.push('placeholder: ' + input.placeholder);
  }
  for (const el of document.querySelectorAll('button, a, h1, h2, .pill, .chip, .facet-label, .count')) {
    if (!el.offsetParent || el.closest('.visually-hidden')) continue;  // hidden on purpose
    if (el.scrollWidth > el.clientWidth + 1 && getComputedStyle(el).overflow !== 'visible') clipped.push(el.outerHTML.slice(0, 80));
  }
  const box = document.documentElement;
  if (box.scrollWidth > box.clientWidth) clipped.push('page is ' + box.scrollWidth + 'px wide');
  return clipped;
}"""


def test_nothing_is_clipped_at_360px(context_factory, rich_server):
    page = context_factory(base_url=rich_server, viewport={"width": 360, "height": 740}).new_page()
    page.goto("/")
    paper = page.locator(".hit-list [data-hit-link]").first.get_attribute("href")
    author = page.locator(".hit .authors a").first.get_attribute("href")
    for url in ["/", "/?q=mixture+of+experts&tag=cs.LG", f"/tags/{TOPIC}", "/tags", paper, author]:
        page.goto(url)
        assert page.evaluate(CLIP_CHECK) == [], url


# --- pages --------------------------------------------------------------------------------------

def test_paper_page_puts_the_facts_beside_the_abstract(rich_page: Page):
    page = rich_page
    page.goto("/")
    page.locator(".hit-list [data-hit-link]").first.click()
    abstract = page.locator(".abstract").bounding_box()
    side = page.locator(".paper-side").bounding_box()
    if page.device == "desktop":
        assert side["x"] > abstract["x"] + abstract["width"]  # beside, not below
        assert side["y"] < abstract["y"] + abstract["height"]
    else:
        assert side["width"] > 300  # stacked, full width
    expect(page.locator(".related ol a").first).to_be_visible()  # loaded after the page


def test_tags_page_filters_as_you_type(rich_page: Page):
    page = rich_page
    page.goto("/tags")
    expect(page.locator(".tag-group")).to_have_count(2)
    box = page.get_by_label("Filter tags")
    box.fill("experts")
    expect(page.locator(".tag-grid li:visible")).to_have_count(1)
    expect(page.locator(".tag-grid li:visible .tag-name")).to_have_text("Mixture of experts")
    expect(page.locator("[data-tag-filter-count]")).to_have_text("1 tag")
    expect(page.locator("#tags-category")).to_be_hidden()  # a group with no match folds away
    box.fill("cs.cl")
    expect(page.locator(".tag-grid li:visible .tag-name")).to_have_text(["Computation and Language"])
    box.fill("zzzz")
    expect(page.get_by_text("No tag matches this filter.")).to_be_visible()
    box.fill("")
    assert page.locator(".tag-grid li:visible").count() > 30


# --- accessibility and looks --------------------------------------------------------------------

AXE = sorted((Path(__file__).parent / "vendor").glob("axe-*.min.js"))[-1]


def axe_serious(page: Page) -> list:
    page.add_script_tag(content=AXE.read_text(encoding="utf-8"))
    result = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    return [(v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3]) for v in result["violations"]
            if v["impact"] in ("serious", "critical")]


def page_kinds(page: Page) -> dict[str, str]:
    page.goto("/")
    paper = page.locator(".hit-list [data-hit-link]").first.get_attribute("href")
    author = page.locator(".hit .authors a").first.get_attribute("href")
    return {"home": "/", "search": f"/?q=experts&tag={TOPIC}", "misspelled": "/?q=langauge+modles",
            "tag": f"/tags/{TOPIC}", "category": "/tags/cs.CL", "tags": "/tags", "paper": paper,
            "related": paper.replace("/papers/", "/related/"), "author": author, "missing": "/papers/nope",
            "dated": "/?q=language&from=2020-01-01", "all-topics": "/facets/topic?q=language", "new": "/new",
            "new-category": "/new/cs.LG", "list": "/list?ids=" + paper.removeprefix("/papers/") + "&title=Reading"}


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("width", [1280, 390])
def test_every_page_kind_is_axe_clean(context_factory, rich_server, scheme, width):
    # axe is injected as an inline script, which the site's CSP rightly forbids: bypass it here only.
    page = context_factory(base_url=rich_server, bypass_csp=True, color_scheme=scheme,
                           viewport={"width": width, "height": 900}).new_page()
    for name, url in page_kinds(page).items():
        page.goto(url)
        assert axe_serious(page) == [], f"{name} {url} ({scheme}, {width}px)"
    # and the states scripts open: the drawer, a whole abstract, the shortcuts
    page.goto("/?q=experts")
    page.locator(".abstract-more summary").first.click()
    if width < 800:
        page.locator("[data-open-filters]").click()
    assert axe_serious(page) == [], f"opened states ({scheme}, {width}px)"
    page.goto("/")
    page.locator("#result-count").click()
    page.keyboard.press("?")
    assert axe_serious(page) == [], f"shortcuts ({scheme}, {width}px)"


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("device, viewport", [("desktop", {"width": 1280, "height": 900}),
                                              ("phone", {"width": 390, "height": 844})])
def test_screenshots_of_every_page_kind(context_factory, rich_server, screenshots, scheme, device, viewport):
    page = context_factory(base_url=rich_server, color_scheme=scheme, viewport=viewport,
                           device_scale_factor=1).new_page()
    for name, url in page_kinds(page).items():
        page.goto(url)
        page.wait_for_load_state("networkidle")
        path = screenshots / f"rich-{name}-{device}-{scheme}.png"
        page.screenshot(path=str(path), full_page=name in ("paper", "tags"))
        assert path.stat().st_size > 5_000
        overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 0, f"{name} overflows by {overflow}px at {viewport['width']}px"
    if device == "phone":
        page.goto("/?q=experts")
        page.locator("[data-open-filters]").click()
        page.screenshot(path=str(screenshots / f"rich-drawer-{device}-{scheme}.png"))
