"""The fixed query mix, and how each query is asked of our app and of every peer.

Classes: `specific` (few hundred matches), `broad` (most of the corpus matches),
`filtered` (a category tag on top), `sorted` (newest first) and `deep` (page 50).
"""

import re
from dataclasses import dataclass
from urllib.parse import urlencode

PER_PAGE = 20
TAG = "cs.LG"


@dataclass(frozen=True)
class Query:
    kind: str
    q: str
    tags: tuple[str, ...] = ()
    sort: str | None = None      # "newest" or None for relevance
    page: int = 1

    @property
    def name(self) -> str:
        extra = "".join(f" tag={t}" for t in self.tags)
        if self.sort:
            extra += f" sort={self.sort}"
        if self.page != 1:
            extra += f" page={self.page}"
        return f"{self.kind}: {self.q}{extra}"

    @property
    def offset(self) -> int:
        return (self.page - 1) * PER_PAGE

    def app_query_string(self) -> str:
        pairs = [("q", self.q)] + [("tag", t) for t in self.tags]
        if self.sort:
            pairs.append(("sort", self.sort))
        if self.page != 1:
            pairs.append(("page", str(self.page)))
        return urlencode(pairs)

    def datasette_path(self, db: str = "bench") -> str | None:
        """Datasette's faceted table search; None where it has no equivalent (no page jumps)."""
        if self.page != 1:
            return None  # keyset pagination only: page 50 means following 49 `_next` links
        pairs = [("_search", self.q), ("_facet_array", "categories"), ("_size", str(PER_PAGE))]
        pairs += [("categories__arraycontains", t) for t in self.tags]
        if self.sort == "newest":
            pairs.append(("_sort_desc", "published"))
        return f"/{db}/papers.json?{urlencode(pairs)}"

    def terms(self) -> list[str]:
        return re.findall(r"\w+", self.q.lower())

    def fts5_match(self) -> str:
        """Every token quoted (as sqlite-utils and Datasette do): implicit AND, no operator can leak."""
        return " ".join(f'"{t}"' for t in self.terms())


MIX: list[Query] = [
    Query("specific", "pipeline parallelism"),
    Query("specific", "GPipe"),
    Query("specific", "knowledge distillation"),
    Query("specific", "mixture of experts"),
    Query("broad", "model"),
    Query("broad", "learning"),
    Query("broad", "language models"),
    Query("filtered", "knowledge distillation", tags=(TAG,)),
    Query("filtered", "model", tags=(TAG,)),
    Query("sorted", "language models", sort="newest"),
    Query("deep", "model", page=50),
    Query("deep", "knowledge distillation", page=5),
]

# The two load classes of the throughput targets.
LOAD_CLASSES = {
    "specific": [q for q in MIX if q.kind == "specific"],
    "broad": [q for q in MIX if q.kind == "broad"],
}
