"""The typed query plan: what a query asks for, with no engine syntax in it.

`app/search/query.py` compiles the user's text into these nodes. Two kinds:

- **Text** nodes (`Words`, `AllOf`, `AnyOf`) say which words and phrases must
  occur, in which columns. Only an engine turns them into its own syntax (FTS5
  MATCH text for SQLite, a tsquery for PostgreSQL): see `app/engine/base.py`.
- **Filter** nodes (`Matches`, `Tag`, `TagPrefix`, `Years`, `PaperId`, `Not`,
  `And`, `Or`) say which papers qualify. The in-memory catalogue evaluates them on
  bitsets; tagging evaluates the same tree over a batch of papers.

Filters follow SQL's three-valued logic, which the catalogue used to get from
SQLite: a paper without a year is neither in nor out of `year:2020`, so it is not
in `NOT year:2020` either. `evaluate` therefore returns (true set, false set).

This module imports nothing from the app: every layer may use it.
"""

from collections.abc import Callable
from dataclasses import dataclass

# --- text ---------------------------------------------------------------------------

COLUMNS = ("title", "abstract", "authors")   # the indexed text of a paper, in index order


@dataclass(frozen=True)
class Words:
    """A word, or a phrase when several tokens; `prefix`: the last token is a prefix.

    `columns` restricts where it may occur (empty: any indexed column). Tokens are
    lower-cased as the tokenizer splits them (see query.fts_tokens).
    """
    tokens: tuple[str, ...]
    columns: tuple[str, ...] = ()
    prefix: bool = False


@dataclass(frozen=True)
class AllOf:
    """Every part occurs and no excluded part does (at least one part)."""
    parts: tuple["Text", ...]
    excluded: tuple["Text", ...] = ()


@dataclass(frozen=True)
class AnyOf:
    """At least one part occurs (two or more parts)."""
    parts: tuple["Text", ...]


Text = Words | AllOf | AnyOf


def all_of(parts, excluded=()) -> "Text":
    """AllOf, or the single part itself when that is all there is."""
    parts, excluded = tuple(parts), tuple(excluded)
    if len(parts) == 1 and not excluded:
        return parts[0]
    return AllOf(parts, excluded)


def any_of(parts) -> "Text":
    """AnyOf, or the single part itself."""
    parts = tuple(parts)
    return parts[0] if len(parts) == 1 else AnyOf(parts)


# --- filters ------------------------------------------------------------------------

@dataclass(frozen=True)
class Matches:
    """Papers whose indexed text matches `text`."""
    text: Text


@dataclass(frozen=True)
class Tag:
    """Papers carrying the tag `slug` (case-insensitive)."""
    slug: str


@dataclass(frozen=True)
class TagPrefix:
    """Papers carrying any tag whose slug starts with `prefix` (ASCII case-insensitive)."""
    prefix: str


@dataclass(frozen=True)
class Years:
    """Papers published between `start` and `end`, both included; None: open."""
    start: int | None
    end: int | None

    def holds(self, year: int) -> bool:
        return (self.start is None or year >= self.start) and (self.end is None or year <= self.end)


@dataclass(frozen=True)
class PaperId:
    """The paper with this arXiv id (any version) or this public key."""
    arxiv_id: str
    key: str


@dataclass(frozen=True)
class Not:
    node: "Filter"


@dataclass(frozen=True)
class And:
    nodes: tuple["Filter", ...]


@dataclass(frozen=True)
class Or:
    nodes: tuple["Filter", ...]


Filter = Matches | Tag | TagPrefix | Years | PaperId | Not | And | Or


def and_(nodes) -> "Filter | None":
    nodes = tuple(nodes)
    if not nodes:
        return None
    return nodes[0] if len(nodes) == 1 else And(nodes)


# A leaf resolver gives (papers where the leaf is true, papers where it is false) as
# bitsets; papers in neither are "unknown" (SQL NULL), as a paper without a year is.
Resolver = Callable[[Matches | Tag | TagPrefix | Years | PaperId], tuple[int, int]]


def evaluate(node: "Filter", resolve: Resolver, universe: int) -> tuple[int, int]:
    """(true set, false set) of a filter tree over `universe`, in three-valued logic."""
    if isinstance(node, Not):
        true, false = evaluate(node.node, resolve, universe)
        return false, true
    if isinstance(node, And):
        true, false = universe, 0
        for child in node.nodes:
            t, f = evaluate(child, resolve, universe)
            true &= t
            false |= f
        return true, false
    if isinstance(node, Or):
        true, false = 0, universe
        for child in node.nodes:
            t, f = evaluate(child, resolve, universe)
            true |= t
            false &= f
        return true, false
    true, false = resolve(node)
    return true & universe, false & universe


def ascii_fold(text: str) -> str:
    """Lower-case ASCII letters only (as SQL's NOCASE and LIKE do)."""
    return text.translate(_ASCII_LOWER)


_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
