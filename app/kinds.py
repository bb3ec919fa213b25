"""The facet-kind registry: every kind of label a paper can carry, declared once.

A kind says where its values come from (`source`: rows of the `tags` table with
this kind, or the papers' own publication year), how it is headed, in which order
it is listed, and whether search pages offer it as a facet. Adding a kind is one
entry here plus whatever fills its values (a parser for `classification`, a rule
file for `topic`).

Ground floor: imports nothing from the app.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class FacetKind:
    name: str        # stored in tags.kind (tag kinds) and used in URLs, JSON and CSS
    heading: str     # a group of values: "Topics"
    singular: str    # one value: "Topic"
    source: str      # "tag": rows of `tags` with this kind; "year": the papers' publication year
    facet: bool      # offered as a facet on search pages (else shown on paper pages only)


KINDS: tuple[FacetKind, ...] = (
    FacetKind("topic", "Topics", "Topic", "tag", facet=True),
    FacetKind("category", "Categories", "arXiv category", "tag", facet=True),
    FacetKind("year", "Years", "Year", "year", facet=True),
    # ACM CCS / MSC codes given by a source: too many and too fine to filter by.
    FacetKind("classification", "Classifications", "Classification", "tag", facet=False),
)
BY_NAME = {kind.name: kind for kind in KINDS}
TAG_KINDS = tuple(k.name for k in KINDS if k.source == "tag")
FACETS = tuple(k for k in KINDS if k.facet)
TAG_FACETS = tuple(k.name for k in FACETS if k.source == "tag")


def order(kind: str) -> int:
    """Where a kind is listed (unknown kinds last)."""
    return next((i for i, k in enumerate(KINDS) if k.name == kind), len(KINDS))
