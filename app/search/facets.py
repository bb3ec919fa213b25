"""Facet groups (the kinds app/kinds.py offers as facets) over the whole filtered result set.

Each count is one `&` and `bit_count()` on bitsets (see catalogue.py): all
~150 tags of the full corpus cost a few milliseconds whatever the query.
Values are ordered by count, then name; each group shows at most FACET_LIMIT
values, but a selected or excluded value is always shown so it can be undone.
"""

from dataclasses import dataclass, field

from app import kinds
from app.results import FacetValue, SearchParams
from app.search.catalogue import Catalogue

FACET_LIMIT = 15  # what a sidebar can show; each value renders two links, the page cost grows with it


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
    excluded = {s.lower() for s in (*params.not_tags, *query_not_tags)}
    counted: dict[str, list[tuple]] = {kind: [] for kind in kinds.TAG_FACETS}
    for tag in cat.tags.values():
        if tag.kind not in counted:  # a kind shown on paper pages only
            continue
        folded = tag.slug.lower()
        state = (folded in selected, folded in excluded)
        base = sets.without_exclusion.get(tag.slug, 0) if state[1] else results
        count = (base & tag.bits).bit_count()
        if count or any(state):
            counted[tag.kind].append((tag, count, state))
    groups: dict[str, list[FacetValue]] = {}
    more: dict[str, int] = {}
    for kind, entries in counted.items():
        # Values are built only for what is shown: a value carries two views (URLs).
        entries.sort(key=lambda e: (not e[2][0], e[2][1], -e[1], e[0].name.lower()))
        keep = [e for i, e in enumerate(entries) if i < FACET_LIMIT or any(e[2])]
        more[kind] = len(entries) - len(keep)
        groups[kind] = [FacetValue(
            value=tag.slug, label=tag.name, kind=tag.kind, count=count, selected=is_selected,
            excluded=is_excluded,
            toggle=params.toggle_exclusion(tag.slug) if is_excluded else params.toggle_tag(tag.slug),
            exclude=params.toggle_exclusion(tag.slug)) for tag, count, (is_selected, is_excluded) in keep]
    years = []
    for year in sorted(cat.years, reverse=True):
        count = (sets.without_years & cat.years[year]).bit_count()
        if count or year in params.years:
            years.append(FacetValue(value=str(year), label=str(year), kind="year", count=count,
                                    selected=year in params.years, toggle=params.toggle_year(year)))
    groups["year"], more["year"] = years, 0
    return groups, more
