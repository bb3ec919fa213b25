"""The compiled query's SQL filter (`CompiledQuery.where`) evaluated to a bitset.

app/query.py joins its filters with top-level " AND ". The shapes it emits for
tags, years and full-text sub-queries are answered from the in-memory bitsets
(a tag filter over 60k papers through SQL costs tens of milliseconds, the bitset
microseconds). Anything else is evaluated by SQLite, and the result cached, so an
unfamiliar shape is slower but always correct.
"""

import re

from app.bitsets import Catalogue
from app.query import FTS_SUBQUERY, TAG_SUBQUERY

_TAG_EQ = f"p.id IN ({TAG_SUBQUERY}t.slug = ? COLLATE NOCASE)"
_FTS_IN = f"p.id IN ({FTS_SUBQUERY})"
_FTS_NOT_IN = f"p.id NOT IN ({FTS_SUBQUERY})"
_YEAR = re.compile(r"p\.year (=|>=|<=|BETWEEN) \?(?: AND \?)?")


def _split(where: str) -> list[str]:
    """Top-level conjuncts (outside parentheses; `BETWEEN ? AND ?` stays whole)."""
    parts, depth, start, i = [], 0, 0, 0
    while i < len(where):
        ch = where[i]
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif depth == 0 and where.startswith(" AND ", i) and not where[start:i].endswith("BETWEEN ?"):
            parts.append(where[start:i])
            start = i + 5
            i += 5
            continue
        i += 1
    parts.append(where[start:])
    return parts


def evaluate(cat: Catalogue, conn, where: str, params: tuple, match_bits) -> int:
    """The bitset of papers satisfying `where`; `match_bits(expr)` gives an FTS5 match set."""
    bits = cat.universe
    position = 0
    for atom in _split(where):
        count = atom.count("?")
        bits &= _atom(cat, conn, atom, tuple(params[position:position + count]), match_bits)
        position += count
        if not bits:
            break
    return bits


def _atom(cat: Catalogue, conn, atom: str, params: tuple, match_bits) -> int:
    if atom.startswith("NOT ") and atom[4:] in (_TAG_EQ, _FTS_IN, _FTS_NOT_IN):
        # Only where no NULL is involved: SQL's NOT of a NULL comparison is not a complement.
        return cat.universe & ~_atom(cat, conn, atom[4:], params, match_bits)
    if atom == _TAG_EQ:
        tag = cat.tag(str(params[0]))
        return tag.bits if tag else 0
    if atom == _FTS_IN:
        return match_bits(params[0])
    if atom == _FTS_NOT_IN:
        return cat.universe & ~match_bits(params[0])
    year = _YEAR.fullmatch(atom)
    if year and all(isinstance(p, int) for p in params):
        op = year.group(1)
        if op == "=":
            ok = lambda y: y == params[0]  # noqa: E731
        elif op == ">=":
            ok = lambda y: y >= params[0]  # noqa: E731
        elif op == "<=":
            ok = lambda y: y <= params[0]  # noqa: E731
        else:
            ok = lambda y: params[0] <= y <= params[1]  # noqa: E731
        bits = 0
        for y, year_bits in cat.years.items():
            if ok(y):
                bits |= year_bits
        return bits
    return cat.predicates.get_or((atom, params), lambda: cat.fetch(
        conn, f"SELECT group_concat(p.id) FROM papers p WHERE {atom}", params))
