"""The small helpers behind the pages: rule wording, term highlighting, view URLs."""

from app.papers import describe_rule, highlight_terms
from app.search import SearchParams
from app.web.pages import View


def test_rule_is_read_as_words():
    assert describe_rule('"mixture of experts" OR moe') == "“mixture of experts” or “moe”"


def test_rule_groups_fields_prefixes_and_negation_are_worded():
    assert describe_rule('title:distil* OR ("teacher model" student) -survey') == (
        "“distil…” in the title or (“teacher model” and “student”) and not “survey”")


def test_highlight_marks_terms_in_any_case_and_spacing():
    html = highlight_terms("A sparse Mixture-of-Experts model; experts route.", ["mixture of experts", "expert"])
    assert str(html) == "A sparse <mark>Mixture-of-Experts</mark> model; <mark>experts</mark> route."


def test_highlight_escapes_the_text():
    assert str(highlight_terms("<b>moe</b> & more", ["moe"])) == "&lt;b&gt;<mark>moe</mark>&lt;/b&gt; &amp; more"


def test_tag_view_keeps_its_tag_in_the_path():
    view = View("mixture-of-experts")
    params = SearchParams(q="sparse", tags=("mixture-of-experts", "cs.LG"), sort="newest")
    assert view.url(params) == "/tags/mixture-of-experts?q=sparse&tag=cs.LG&sort=newest"
    assert view.url(params.toggle_tag("mixture-of-experts")) == "/?q=sparse&tag=cs.LG&sort=newest"


def test_search_view_urls_are_the_query_string():
    assert View().url(SearchParams()) == "/"
    assert View().url(SearchParams(q="a b", not_tags=("x",), page=2)) == "/?q=a+b&not_tag=x&page=2"
