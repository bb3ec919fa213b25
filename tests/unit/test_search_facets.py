"""Facets count the whole filtered result set, know their state, and toggle to the right view."""

from collections import Counter

import pytest
from search_fixtures import catalogue, fixture_database, search  # noqa: F401

pytestmark = pytest.mark.usefixtures("catalogue")

VIEWS = [dict(q=""), dict(q="experts"), dict(q="model"), dict(q="tag:cs.LG"), dict(q="language -model"),
         dict(q="", tags=("cs.LG",)), dict(q="model", tags=("cs.CL", "cs.LG")), dict(q="", not_tags=("cs.CL",)),
         dict(q="", years=(2024, 2025)), dict(q="apples zebra")]


def brute_force(view: dict) -> tuple[Counter, Counter]:
    """Tag and year counts by reading every hit of the view."""
    result = search(**view, per_page=100)
    assert result.total <= 100
    tags = Counter(t.slug for h in result.hits for t in h.tags)
    years = Counter(str(h.published.year) for h in result.hits if h.published)
    return tags, years


def facet_counts(result, kinds) -> Counter:
    return Counter({v.value: v.count for kind in kinds for v in result.facets[kind]
                    if not v.excluded and v.count})


@pytest.mark.parametrize("view", VIEWS, ids=[repr(v) for v in VIEWS])
def test_tag_counts_equal_a_brute_force_count(view):
    result = search(**view, per_page=5)  # facets cover every result, not the page shown
    tags, _years = brute_force(view)
    shown = facet_counts(result, ("topic", "category"))
    assert all(tags[slug] == count for slug, count in shown.items())
    left_out = sum(result.facets_more.get(kind, 0) for kind in ("topic", "category"))
    assert len(shown) + left_out == len(+tags)


@pytest.mark.parametrize("view", [v for v in VIEWS if not v.get("years")])
def test_year_counts_equal_a_brute_force_count(view):
    _tags, years = brute_force(view)
    assert facet_counts(search(**view), ("year",)) == years


def test_years_are_alternatives_counted_without_the_year_filter():
    result = search(years=(2024,))
    values = {v.value: v for v in result.facets["year"]}
    assert values["2024"].selected and values["2024"].count == result.total
    _tags, all_years = brute_force({})
    assert values["2025"].count == all_years["2025"] and not values["2025"].selected
    assert values["2025"].toggle.years == (2024, 2025)


def test_a_selected_tag_counts_every_result_and_toggles_off():
    result = search("model", tags=("cs.CL",))
    value = next(v for v in result.facets["category"] if v.value == "cs.CL")
    assert value.selected and value.count == result.total
    assert value.toggle.tags == () and value.toggle.page == 1


def test_an_unselected_tag_toggles_on_and_can_be_excluded():
    result = search("model")
    value = next(v for v in result.facets["category"] if v.value == "cs.LG")
    assert not value.selected and value.toggle.tags == ("cs.LG",)
    assert value.exclude.not_tags == ("cs.LG",)


def test_selected_tags_narrow_all_at_once():
    hits = search(tags=("cs.CL", "cs.LG")).hits
    assert hits and all({"cs.CL", "cs.LG"} <= {t.slug for t in h.tags} for h in hits)


def test_an_excluded_tag_hides_its_papers_and_counts_them():
    result = search(not_tags=("cs.CL",))
    assert all("cs.CL" not in {t.slug for t in h.tags} for h in result.hits)
    value = next(v for v in result.facets["category"] if v.value == "cs.CL")
    everything, _years = brute_force({})
    assert value.excluded and value.count == everything["cs.CL"]
    assert value.toggle.not_tags == ()  # toggling an exclusion lifts it


def test_an_unknown_tag_selects_nothing_and_an_unknown_exclusion_hides_nothing():
    assert search(tags=("no-such-tag",)).total == 0
    assert search(not_tags=("no-such-tag",)).total == search().total


def test_a_tag_in_the_query_shows_as_selected():
    result = search("tag:cs.DC")
    assert next(v for v in result.facets["category"] if v.value == "cs.DC").selected


def test_topics_and_categories_are_separate_groups():
    result = search()
    assert result.facets["category"] and all(v.kind == "category" for v in result.facets["category"])
    assert all(v.kind == "topic" for v in result.facets["topic"])
    assert [int(v.value) for v in result.facets["year"]] == sorted((int(v.value) for v in result.facets["year"]),
                                                                  reverse=True)


def test_values_are_ordered_by_count():
    counts = [v.count for v in search().facets["category"]]
    assert counts == sorted(counts, reverse=True)


def test_many_exclusions_stay_cheap():
    slugs = tuple(f"no-such-tag-{i}" for i in range(2000)) + ("cs.CL", "cs.LG")
    result = search(not_tags=slugs)
    assert result.total == len([h for h in search().hits if not {"cs.CL", "cs.LG"} & {t.slug for t in h.tags}])
    values = {v.value: v for v in result.facets["category"]}
    assert values["cs.CL"].excluded and values["cs.LG"].excluded


@pytest.mark.parametrize("q", ["", "model", "experts"])
def test_excluding_a_value_moves_no_row(q):
    """Rows keep their order after an exclusion, so the pointer stays on the row it just excluded."""
    before = search(q=q).facets
    for kind in ("topic", "category"):
        for value in before[kind]:
            after = search(q=q, not_tags=(value.value,)).facets[kind]
            assert [v.value for v in after] == [v.value for v in before[kind]], (kind, value.value)
            assert next(v for v in after if v.value == value.value).excluded


@pytest.fixture
def with_classification(fixture_database, copy_database, monkeypatch):
    """A copy of the fixture catalogue where one paper carries an ACM classification tag."""
    from backends import database_url

    from app.db import connect
    from app.settings import get_settings

    where = copy_database(fixture_database)
    conn = connect(where)
    tag_id = conn.execute("INSERT INTO tags(slug, name, kind, description, rule) VALUES"
                          " ('acm-10010147', 'Computing methodologies', 'classification', '', '') RETURNING id"
                          ).fetchone()[0]
    paper_id, key = conn.execute("SELECT id, key FROM papers ORDER BY id LIMIT 1").fetchone()
    conn.execute("INSERT INTO paper_tags(tag_id, paper_id) VALUES (?, ?)", (tag_id, paper_id))
    conn.close()
    monkeypatch.setenv("DATABASE_URL", database_url(where))
    get_settings.cache_clear()
    yield key
    get_settings.cache_clear()


def test_a_kind_registered_without_facet_is_not_offered_as_one(with_classification):
    result = search(f"id:{with_classification}")
    assert result.total == 1
    assert [t.kind for t in result.hits[0].tags].count("classification") == 1  # shown on the paper
    assert "classification" not in result.facets
    assert [kind for kind in result.facets] == ["topic", "category", "date", "year"]
