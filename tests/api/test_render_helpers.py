"""The helpers that keep a search page's hot loops cheap (app/web/render.py, View's URLs) say
exactly what the templates' own rules said, and a kept rendering is never a stale one."""

from dataclasses import replace
from datetime import date

from markupsafe import Markup

from app.papers import highlight_terms
from app.results import Hit, TagRef
from app.search import SearchParams
from app.web.pages import View
from app.web.render import (author_path, facet_labels, hit_meta, more_than_snippet, page_numbers, templates,
                            whole_abstract)


def _link(url: str, **context) -> str:
    return templates.env.from_string("<a {{ link_attrs(url) }}>x</a>").render(url=url, **context)


def _hit(**fields) -> Hit:
    values = dict(id=1, key="2501.00001", arxiv_id="2501.00001", title="Sparse experts",
                  abstract="We route tokens to sparse experts. " * 5, authors=("Zoë Ångström", "Bo Li"),
                  published=date(2025, 1, 2), url=None, tags=(TagRef("moe", "Mixture of experts", "topic"),),
                  snippet=Markup("We route tokens to sparse <mark>experts</mark>…"),
                  title_html=Markup("Sparse experts"))
    return Hit(**{**values, **fields})


def test_a_link_within_the_view_is_also_an_htmx_swap():
    assert _link("/?q=a&tag=b", view_path="/") == '<a href="/?q=a&amp;tag=b" hx-get="/?q=a&amp;tag=b">x</a>'


def test_a_link_to_another_view_is_a_plain_link():
    assert _link("/tags/moe?q=a", view_path="/") == '<a href="/tags/moe?q=a">x</a>'


def test_on_a_page_without_a_view_every_link_swaps_in_place():
    assert _link("/tags/moe") == '<a href="/tags/moe" hx-get="/tags/moe">x</a>'


def test_a_link_escapes_its_url():
    assert _link('/?q="<b>"', view_path="/") == ('<a href="/?q=&#34;&lt;b&gt;&#34;" '
                                                  'hx-get="/?q=&#34;&lt;b&gt;&#34;">x</a>')


def test_a_chip_links_to_the_view_with_its_tag_toggled():
    params = SearchParams(q="sparse", tags=("moe", "cs.LG"), not_tags=("cs.CV",), page=3)
    for view in (View(), View("moe"), View(fixed_author="bo-li")):
        for slug in ("moe", "cs.LG", "cs.CV", "cs.AI"):
            assert view.tag_url(params, slug) == view.url(params.toggle_tag(slug))
    assert View().tag_url(params, "cs.AI") == "/?q=sparse&tag=moe&tag=cs.LG&tag=cs.AI&not_tag=cs.CV"


def test_view_urls_follow_the_params_not_an_earlier_answer():
    view = View("moe")
    first = SearchParams(q="sparse", tags=("moe",))
    assert view.url(first) == "/tags/moe?q=sparse"
    assert view.url(replace(first, q="dense")) == "/tags/moe?q=dense"
    assert view.url(first, "feed") == "/tags/moe/feed?q=sparse"
    assert View("other").url(first) == "/?q=sparse&tag=moe"


def test_the_pager_names_the_first_and_last_pages_and_two_either_side():
    for last in (1, 2, 5, 9, 40):
        for page in range(1, last + 1):
            expected = [n for n in range(1, last + 1) if n == 1 or n == last or abs(n - page) <= 2]
            assert page_numbers(page, last) == expected
    assert page_numbers(5000, 10_000) == [1, 4998, 4999, 5000, 5001, 5002, 10_000]


def test_author_links_use_the_ingest_slug_quoted_for_a_path():
    assert author_path("Zoë Ångström") == "/authors/zoe-angstrom"
    assert author_path("李 明") == "/authors/%E6%9D%8E-%E6%98%8E"


def test_a_byline_is_rendered_from_the_fields_it_shows():
    hit = _hit()
    meta = str(hit_meta(hit))
    assert '<a href="/authors/zoe-angstrom">Zoë Ångström</a>, <a href="/authors/bo-li">Bo Li</a>' in meta
    assert '<time datetime="2025-01-02">2 Jan 2025</time>' in meta
    assert 'href="https://arxiv.org/pdf/2501.00001"' in meta
    assert hit_meta(replace(hit, snippet=Markup("other"), title="Other")) == meta  # the query does not change it
    changed = str(hit_meta(replace(hit, authors=(*hit.authors, "Cy <Doe>"), upvotes=1234)))
    assert '<a href="/authors/cy-doe">Cy &lt;Doe&gt;</a>' in changed  # a changed paper is rendered anew
    assert "1,234" in changed


def test_the_whole_abstract_is_marked_as_highlight_terms_marks_it():
    abstract = "Experts <route> tokens; an expert & a router."
    assert whole_abstract(abstract, ("expert",)) == highlight_terms(abstract, ["expert"])
    assert whole_abstract(abstract, ["router"]) == highlight_terms(abstract, ["router"])
    assert whole_abstract(abstract, ()) == highlight_terms(abstract, [])


def test_a_row_offers_the_whole_abstract_only_when_it_says_more_than_the_excerpt():
    assert more_than_snippet("a" * 100, Markup("<mark>" + "a" * 50 + "</mark>…"))
    assert not more_than_snippet("a" * 60, Markup("<mark>" + "a" * 50 + "</mark>…"))


def test_active_filters_are_named_by_their_facet_labels():
    from app.results import FacetValue
    facets = {"topic": (FacetValue("moe", "Mixture of experts", "topic", 3),),
              "year": (FacetValue("2025", "2025", "year", 9),)}
    assert facet_labels(facets) == {"moe": "Mixture of experts", "2025": "2025"}


def test_a_kept_facet_value_renders_for_its_own_view_only():
    from app.results import FacetValue
    from app.web.render import kept
    params = SearchParams(q="sparse", tags=("moe",))
    value = FacetValue("moe", "Mixture of experts", "topic", 3, selected=True, toggle=params.toggle_tag("moe"),
                       exclude=params.toggle_exclusion("moe"))
    on_search = str(kept("_facets.html", "facet_item", value, "topic", View(), None, None, "/"))
    assert 'href="/?q=sparse" hx-get="/?q=sparse" class="facet-toggle" aria-current="true"' in on_search
    assert 'href="/?q=sparse&amp;not_tag=moe" hx-get="/?q=sparse&amp;not_tag=moe" class="facet-exclude"' in on_search
    on_tag_page = str(kept("_facets.html", "facet_item", value, "topic", View("moe"), None, "moe", "/tags/moe"))
    assert '<span class="facet-toggle">' in on_tag_page and "href" not in on_tag_page  # its own tag stays
    elsewhere = str(kept("_facets.html", "facet_item", value, "topic", View(), None, None, "/authors/bo-li"))
    assert 'href="/?q=sparse" class="facet-toggle"' in elsewhere  # another view's link is a plain link
    assert kept("_facets.html", "facet_item", value, "topic", View(), None, None, "/") == on_search


def test_a_kept_result_row_renders_for_its_own_hit_view_and_query_only():
    from app.web.render import kept
    params = SearchParams(q="sparse", tags=("moe",))
    hit = _hit()
    row = str(kept("_macros.html", "paper_item", hit, 3, View(), params, ("sparse",), "/"))
    assert '<h3 class="hit-title"><a href="/papers/2501.00001" data-hit-link>Sparse experts</a></h3>' in row
    assert 'href="/?q=sparse" hx-get="/?q=sparse" class="chip chip-topic" aria-current="true"' in row
    assert row == str(kept("_macros.html", "paper_item", hit, 3, View(), params, ("sparse",), "/"))
    # The same row on a tag page: the chip of the page's own tag leads elsewhere, a plain link.
    assert 'href="/?q=sparse" class="chip chip-topic"' in str(
        kept("_macros.html", "paper_item", hit, 3, View(), params, ("sparse",), "/tags/moe"))
    other_query = str(kept("_macros.html", "paper_item", hit, 3, View(), replace(params, q="dense"), ("dense",), "/"))
    assert 'href="/?q=dense"' in other_query and 'href="/?q=sparse"' not in other_query
    marked = str(kept("_macros.html", "paper_item", replace(hit, title_html=Markup("<mark>Sparse</mark> experts")),
                      3, View(), params, ("sparse",), "/"))
    assert "<mark>Sparse</mark> experts</a>" in marked  # another highlight is another row
    assert whole_abstract(hit.abstract, ("sparse",)) in row
