"""Facet groups (topics, categories, years) over the whole filtered result set.

Each count is one `&` and `bit_count()` on bitsets (see app/bitsets.py): all
~150 tags of the full corpus cost a few milliseconds whatever the query.
Values are ordered by count, then name; each group shows at most FACET_LIMIT
values, but a selected or excluded value is always shown so it can be undone.
"""

from dataclasses import dataclass, field

from app.bitsets import Catalogue
from app.search import FacetValue, SearchParams

FACET_LIMIT = 30
GROUPS = ("topic", "category", "year")


@dataclass
class Sets:
    """The result set, and the variants some facet values are counted over."""
    results: int
    without_years: int                 # years are alternatives: a year counts as if none were chosen
    without_exclusion: dict[str, int] = field(default_factory=dict)  # slug -> set without that exclusion


def compute(cat: Catalogue, params: SearchParams, sets: Sets, query_tags: tuple[str, ...] = (),
            query_not_tags: tuple[str, ...] = ()) -> tuple[dict[str, list[FacetValue]], dict[str, int]]:
    """(values by group, how many values each group left out).

    An excluded tag counts the papers its exclusion hides, so the user sees what
    including it again would bring back.
    """
    results = sets.results
    selected = {s.lower() for s in (*params.tags, *query_tags)}
    excluded_slugs = {s.lower() for s in (*params.not_tags, *query_not_tags)}
    groups: dict[str, list[FacetValue]] = {g: [] for g in GROUPS}
    for tag in cat.tags.values():
        folded = tag.slug.lower()
        if folded in excluded_slugs:
            count = (sets.without_exclusion.get(tag.slug, 0) & tag.bits).bit_count()
        else:
            count = (results & tag.bits).bit_count()
        if not count and folded not in selected and folded not in excluded_slugs:
            continue
        groups.setdefault(tag.kind, []).append(FacetValue(
            value=tag.slug, label=tag.name, kind=tag.kind, count=count,
            selected=folded in selected, excluded=folded in excluded_slugs,
            toggle=(params.toggle_exclusion(tag.slug) if folded in excluded_slugs
                    else params.toggle_tag(tag.slug)),
            exclude=params.toggle_exclusion(tag.slug)))
    for year, bits in cat.years.items():
        chosen = year in params.years
        count = (sets.without_years & bits).bit_count()
        if not count and not chosen:
            continue
        groups["year"].append(FacetValue(value=str(year), label=str(year), kind="year", count=count,
                                         selected=chosen, toggle=params.toggle_year(year)))
    more: dict[str, int] = {}
    for kind, values in groups.items():
        if kind == "year":
            values.sort(key=lambda v: -int(v.value))
        else:
            values.sort(key=lambda v: (not v.selected, v.excluded, -v.count, v.label.lower()))
        keep = [v for i, v in enumerate(values) if i < FACET_LIMIT or v.selected or v.excluded]
        more[kind] = len(values) - len(keep)
        values[:] = keep
    return groups, more
