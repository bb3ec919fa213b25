"""Facet groups (the kinds app/kinds.py offers as facets) over the whole filtered result set.

Each count is one `&` and `bit_count()` on bitsets (see catalogue.py): all
~150 tags of the full corpus cost a few milliseconds whatever the query.
Values are ordered by count, then name; each group shows at most FACET_LIMIT
values, but a selected or excluded value is always shown so it can be undone.
"""

from dataclasses import dataclass, field
from datetime import date, timedelta

from app import kinds
from app.results import FacetValue, SearchParams
from app.search.catalogue import Catalogue

FACET_LIMIT = 15  # what a sidebar can show; each value renders two links, the page cost grows with it
PERIODS = (("week", "Past week", 7), ("month", "Past month", 30), ("year", "Past year", 365))


@dataclass
class Sets:
    """The result set, and the variants some facet values are counted over."""
    results: int
    without_years: int                 # years are alternatives: a year counts as if none were chosen
    without_exclusion: dict[str, int] = field(default_factory=dict)  # slug -> set without that exclusion
    before_exclusions: int | None = None  # the set with no exclusion at all: it orders the values


def compute(cat: Catalogue, params: SearchParams, sets: Sets, query_tags: tuple[str, ...] = (),
            query_not_tags: tuple[str, ...] = (), limit: int | None = FACET_LIMIT,
            today: date | None = None) -> tuple[dict[str, list[FacetValue]], dict[str, int]]:
    """(values by group, how many values each group left out).

    An excluded tag counts the papers its exclusion hides, so the user sees what
    including it again would bring back.
    """
    results = sets.results
    selected = {s.lower() for s in (*params.tags, *query_tags)}
    excluded = {s.lower() for s in (*params.not_tags, *query_not_tags)}
    counted: dict[str, list[tuple]] = {kind: [] for kind in kinds.TAG_FACETS}
    unexcluded = sets.before_exclusions
    counts = cat.tag_counts(results)
    ranks = counts if unexcluded is None or unexcluded == results else cat.tag_counts(unexcluded)
    for tag in cat.tags.values():
        if tag.kind not in counted:  # a kind shown on paper pages only
            continue
        folded = tag.slug.lower()
        state = (folded in selected, folded in excluded)
        if state[1]:  # counted over the set without its own exclusion
            count = (sets.without_exclusion.get(tag.slug, 0) & tag.bits).bit_count()
        else:
            count = counts[tag.slug]
        rank = count if unexcluded is None else ranks[tag.slug]
        if rank or any(state):  # a value an exclusion emptied stays listed (at 0) rather than vanish
            counted[tag.kind].append((tag, count, state, rank))
    groups: dict[str, list[FacetValue]] = {}
    more: dict[str, int] = {}
    for kind, entries in counted.items():
        # Values are built only for what is shown: a value carries two views (URLs).
        # Ordered by counts before any exclusion: excluding a value moves no row, so the row
        # under the pointer after an exclusion is the one just excluded, not its neighbour.
        entries.sort(key=lambda e: (not e[2][0], -e[3], e[0].name.lower()))
        keep, more[kind] = [], 0
        for i, entry in enumerate(entries):
            if limit is None or i < limit or any(entry[2]):
                keep.append(entry)
            elif entry[1]:
                more[kind] += 1  # left out, and not empty
        groups[kind] = [FacetValue(
            value=tag.slug, label=tag.name, kind=tag.kind, count=count, selected=is_selected,
            excluded=is_excluded,
            toggle=params.toggle_exclusion(tag.slug) if is_excluded else params.toggle_tag(tag.slug),
            exclude=params.toggle_exclusion(tag.slug)) for tag, count, (is_selected, is_excluded), _ in keep]
    years = []
    for year in sorted(cat.years, reverse=True):
        count = (sets.without_years & cat.years[year]).bit_count()
        if count or year in params.years:
            years.append(FacetValue(value=str(year), label=str(year), kind="year", count=count,
                                    selected=year in params.years, toggle=params.toggle_year(year)))
    groups["date"], more["date"] = periods(cat, params, sets, today or date.today()), 0
    groups["year"], more["year"] = years, 0
    return groups, more


def periods(cat: Catalogue, params: SearchParams, sets: Sets, today: date) -> list[FacetValue]:
    """Past week, month and year (up to today), counted as if no date were chosen; the chosen one first
    when it is none of these (a from-to range)."""
    out = []
    for value, label, days in PERIODS:
        since = today - timedelta(days=days)
        chosen = params.since == since and params.until is None
        count = (sets.without_years & cat.published_between(since, None)).bit_count()
        if count or chosen:
            out.append(FacetValue(value=value, label=label, kind="date", count=count, selected=chosen,
                                  toggle=params.published_in(None, None) if chosen else params.published_in(since, None)))
    if (params.since or params.until) and not any(v.selected for v in out):
        count = (sets.without_years & cat.published_between(params.since, params.until)).bit_count()
        label = "–".join(d.isoformat() if d else "…" for d in (params.since, params.until))
        out.insert(0, FacetValue(value="range", label=label, kind="date", count=count, selected=True,
                                 toggle=params.published_in(None, None)))
    return out
