"""Subject codes as real arXiv metadata carries them, sorted into their kinds.

A `categories` field in the wild holds arXiv categories (`cs.LG`), but also ACM
classes (`I.2.7`), MSC codes (`68T50`, `47-08`), lists joined by `;` or `,`,
listing-page labels (`Machine Learning (cs.LG)`) and words such as "Primary".
Each token is recognised on its own: an arXiv category becomes a category, an
ACM or MSC code a classification, anything else is dropped and reported --
never the whole record.
"""

import re
from dataclasses import dataclass, field
from functools import lru_cache

# Archives of arXiv, current and retired; a category is `archive` or `archive.SUBJECT`.
ARCHIVES = frozenset("""
    astro-ph cond-mat cs econ eess gr-qc hep-ex hep-lat hep-ph hep-th math math-ph nlin nucl-ex
    nucl-th physics q-bio q-fin quant-ph stat
    acc-phys adap-org alg-geom ao-sci atom-ph bayes-an chao-dyn chem-ph cmp-lg comp-gas dg-ga
    funct-an mtrl-th patt-sol plasm-ph q-alg solv-int supr-con
""".split())
# Archives whose subject classes are written in capitals (cs.LG, math.OC); physics uses words.
_UPPER_SUBJECTS = frozenset("astro-ph cs econ eess math nlin q-bio q-fin stat".split())
_CATEGORY = re.compile(r"([a-z][a-z-]*)(?:\.([a-z][a-z-]*))?", re.I)
# ACM Computing Classification System (1998): "I.2.7", "H.3", "D.2.m".
_ACM = re.compile(r"[A-K]\.(?:\d{1,2}|m)(?:\.(?:\d{1,2}|m))?")
# Mathematics Subject Classification: "68T50", "47-08", "68Txx", "68-XX", "05C".
_MSC = re.compile(r"\d\d(?:[A-Z](?:\d\d|xx|XX)?|-(?:\d\d|xx|XX))")
# Words that label a list rather than belong to it.
_FILLER = frozenset("primary secondary msc msc2000 msc2010 msc2020 acm ccs class classes "
                    "classification classifications and subject subjects".split())
_PARENS = re.compile(r"^(.*?)\s*\(([^()]*)\)\s*$")
_EDGE = " \t\"'.;:,[]{}"

MAX_CODES = 50


@dataclass
class Codes:
    categories: list[str] = field(default_factory=list)
    classifications: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)


def arxiv_category(token: str) -> str | None:
    """The canonical spelling of an arXiv category (`CS.lg` -> `cs.LG`), or None."""
    found = _CATEGORY.fullmatch(token)
    if not found:
        return None
    archive, subject = found.group(1).lower(), found.group(2)
    if archive not in ARCHIVES:
        return None
    if subject is None:  # a bare archive only as written by arXiv: "Physics" is a word, not a code
        return archive if token == archive else None
    return f"{archive}.{subject.upper() if archive in _UPPER_SUBJECTS else subject.lower()}"


def classification(token: str) -> str | None:
    """"acm:I.2.7" or "msc:68T50" for an ACM or MSC code, else None."""
    if _ACM.fullmatch(token):
        return f"acm:{token}"
    if _MSC.fullmatch(token):
        return f"msc:{token}"
    return None


def _tokens(text: str):
    """The codes of one field value; label words and punctuation around codes are left out."""
    for part in re.split(r"[;,\n]", text):
        part = part.strip()
        labelled = _PARENS.match(part)
        if labelled:
            outer, inner = labelled.groups()
            inner_token = inner.strip(_EDGE)
            if arxiv_category(inner_token) or classification(inner_token):
                yield inner_token  # "Machine Learning (cs.LG)": the code, not its name
                continue
            part = outer if inner.strip().lower() in _FILLER else part
        for token in part.split():
            token = token.strip(_EDGE + "()")
            if token and token.lower() not in _FILLER and not token.endswith(":"):
                yield token


@lru_cache(maxsize=65_536)
def _sort_value(value: str) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    """(categories, classifications, drops) of one field value; the same values recur a lot
    ("cs.LG", "cs.CL cs.AI"), so each is worked out once per process."""
    categories, classifications, unknown, known = [], [], [], 0
    for token in _tokens(value):
        category = arxiv_category(token)
        code = None if category else classification(token)
        if not (category or code):
            unknown.append(token)
            continue
        known += 1
        if category and category not in categories:
            categories.append(category)
        elif code and code not in classifications:
            classifications.append(code)
    if unknown and not known:
        # A value with no code in it ("Physics - Optics") is one drop, not one per word.
        drops = (f"dropped category {' '.join(value.split())!r:.60}",)
    else:
        drops = tuple(f"dropped category {token!r:.60}" for token in unknown)
    return tuple(categories), tuple(classifications), drops


def sort_field(value) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]] | None:
    """(categories, classifications, drops) of a string or list of strings; None for other types.
    The common case, one cache lookup per record."""
    if isinstance(value, str):
        return _sort_values((value,))
    if isinstance(value, list):
        try:
            return _sort_values(tuple(value))
        except TypeError:  # unhashable items: sorted one by one below
            pass
        return _sort_mixed(value)
    return None


def _sort_mixed(values: list):
    codes = sort_codes(values)
    return tuple(codes.categories), tuple(codes.classifications), tuple(codes.dropped)


def sort_codes(values, codes: Codes | None = None) -> Codes:
    """Sort the tokens of a string or list of strings into categories, classifications, drops."""
    codes = codes or Codes()
    if isinstance(values, str):
        values = (values,)
    if all(isinstance(v, str) for v in values):
        categories, classifications, drops = _sort_values(tuple(values))
    else:
        categories, classifications = (), ()
        drops = tuple(f"dropped category {str(v)!r:.60}" for v in values if not isinstance(v, str))
        for value in values:
            if isinstance(value, str):
                more = _sort_values((value,))
                categories, classifications, drops = categories + more[0], classifications + more[1], drops + more[2]
    codes.categories.extend(c for c in categories if c not in codes.categories)
    codes.classifications.extend(c for c in classifications if c not in codes.classifications)
    codes.dropped.extend(drops)
    for kind in ("categories", "classifications"):
        kept = getattr(codes, kind)
        if len(kept) > MAX_CODES:
            codes.dropped.append(f"dropped {len(kept) - MAX_CODES} {kind} over {MAX_CODES}")
            del kept[MAX_CODES:]
    return codes


@lru_cache(maxsize=65_536)
def _sort_values(values: tuple[str, ...]) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    """A whole field at once: most records repeat a handful of category lists."""
    categories, classifications, drops = [], [], []
    for value in values:
        if not isinstance(value, str):
            drops.append(f"dropped category {str(value)!r:.60}")
            continue
        more = _sort_value(value)
        categories.extend(c for c in more[0] if c not in categories)
        classifications.extend(c for c in more[1] if c not in classifications)
        drops.extend(more[2])
    for kept in (categories, classifications):
        if len(kept) > MAX_CODES:
            drops.append(f"dropped {len(kept) - MAX_CODES} codes over {MAX_CODES}")
            del kept[MAX_CODES:]
    return tuple(categories), tuple(classifications), tuple(drops)


def classification_label(code: str) -> tuple[str, str]:
    """(name, description) of a stored classification code such as "msc:68T50"."""
    scheme, _, value = code.partition(":")
    if scheme == "acm":
        return f"ACM {value}", f"ACM Computing Classification {value}, given by the source"
    return f"MSC {value}", f"Mathematics Subject Classification {value}, given by the source"
