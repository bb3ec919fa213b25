"""The normalized record every parser yields, and the rules that validate it.

Parsers stay format-specific; everything a record means (identity, limits,
accepted field variants) is decided here, once. Only a record without a usable
title or abstract is refused: any other field that fails is dropped from the
record (and named in `PaperIn.dropped`), so one odd value never costs a paper.
"""

import ast
import dataclasses
import hashlib
import re
import unicodedata
import warnings
from dataclasses import dataclass, field
from datetime import date, datetime
from email.utils import parsedate_to_datetime
from typing import Any

from app.ingest.accents import accents_to_unicode
from app.ingest.classify import sort_field

# Limits well above any real paper, well below what would hurt the index or a page.
MAX_TITLE_CHARS = 1_000
MAX_ABSTRACT_CHARS = 20_000
MAX_AUTHORS = 10_000        # large collaborations list thousands
MAX_AUTHOR_CHARS = 1_000    # sources sometimes glue several names into one
MAX_URL_CHARS = 2_000
MAX_UPVOTES = 10**9

NEW_ARXIV_ID = re.compile(r"(?<![\w.])(\d{4}\.\d{4,5})(?:v\d+)?(?![\w.])")
OLD_ARXIV_ID = re.compile(r"(?<![\w.-])([a-z][a-z-]*(?:\.[A-Z]{2})?/\d{7})(?:v\d+)?(?!\w)")
ARXIV_URL = re.compile(r"arxiv\.org/(?:abs|pdf|html)/([^?#\s]+?)(?:\.pdf)?(?:[?#]|$)", re.I)
# Invisible characters no text field keeps: controls (tab and newlines are whitespace, collapsed), lone
# surrogates, and every format character (Unicode category Cf: soft hyphen, bidi marks and overrides,
# word joiner, Arabic letter mark, the tag block...) of Unicode 14 to 15.1, whichever this Python knows.
# ZWNJ and ZWJ (U+200C, U+200D) are format characters too, but spell words in Persian and Indic
# scripts: they are kept between two letters (see `_joiners`). tests/ingest check this set against
# the running Python's Unicode database.
FORMAT_CHARACTERS = ("\u00ad\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2\u180e\u200b\u200e\u200f"
                     "\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb\U000110bd\U000110cd"
                     "\U00013430-\U0001343f\U0001bca0-\U0001bca3\U0001d173-\U0001d17a\U000e0001"
                     "\U000e0020-\U000e007f")
JOINERS = "\u200c\u200d"
_CONTROL = re.compile(f"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff{FORMAT_CHARACTERS}]")
_JOINER = re.compile(f"[{JOINERS}]+")
_WEB_URL = re.compile(r"https?://", re.I)
_NON_WORD = re.compile(r"[\W_]+")
_AUTHOR_SPLIT = re.compile(r"\s*(?:,|;|\band\b|&)\s*")
# "Smith, J.; Doe, A." (citation exports): semicolons part the names, a comma parts last from first.
_LAST_FIRST_SPLIT = re.compile(r"\s*(?:;|\band\b|&)\s*")


class RecordError(ValueError):
    """A record that cannot be loaded; the message says why, for the user."""


@dataclass(frozen=True)
class Deleted:
    """The source withdrew this record (an OAI-PMH deleted header): the paper goes too."""
    arxiv_id: str


@dataclass(frozen=True)
class PaperIn:
    title: str
    abstract: str
    authors: tuple[str, ...] | None = None   # None: the source says nothing about authors
    published: date | None = None
    arxiv_id: str | None = None
    categories: tuple[str, ...] | None = None
    url: str | None = None
    classifications: tuple[str, ...] | None = None   # "acm:I.2.7", "msc:68T50"
    upvotes: int | None = None                       # popularity where the source has it
    # When the record's text was last revised (its latest version, the source's update date); None
    # where the source does not date its versions. An older record never overwrites a newer one.
    revised: date | None = field(default=None, compare=False)
    dropped: tuple[str, ...] = field(default=(), compare=False)  # "dropped category 'x'", ...
    extra: dict[str, Any] = field(default_factory=dict, compare=False)
    # Derived once, where the record is parsed (a worker process), not in the writer.
    title_norm: str = field(default="", compare=False)
    author_slugs: tuple[str, ...] | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "title_norm", normalize_title(self.title))
        if self.authors is not None:
            object.__setattr__(self, "author_slugs", tuple(author_slug(n) for n in self.authors))

    @property
    def key(self) -> str:
        return self.arxiv_id or title_key(self.title)


# A byte that is not UTF-8 is read as U+FFFD, and its record says so.
REPLACED_UTF8 = "replaced invalid UTF-8"
# A run of such bytes, as the "surrogateescape" error handler reads them (one character a byte).
ESCAPED_BYTES = re.compile("[\udc80-\udcff]+")


def replace_escaped(text: str) -> str:
    """U+FFFD for each byte that was not UTF-8: the same length, so positions still hold."""
    return ESCAPED_BYTES.sub(lambda run: "\ufffd" * len(run.group()), text)


def with_note(record, note: str | None):
    """A record (PaperIn) with one more note of what was dropped or replaced; anything else as it is."""
    if note is None or not isinstance(record, PaperIn):
        return record
    return dataclasses.replace(record, dropped=(*record.dropped, note))


def clean_text(value: str) -> str:
    """One line of readable text: invisible controls removed, whitespace collapsed."""
    if value.isprintable() and "  " not in value and value.strip() == value:
        return value  # the common case, checked in C without allocating
    if _CONTROL.search(value):
        value = _CONTROL.sub("", value)
    if "\u200c" in value or "\u200d" in value:
        value = _JOINER.sub(_joiners, value)
    return " ".join(value.split())


def _joiners(found: re.Match) -> str:
    """ZWNJ/ZWJ kept inside a word (a letter or mark on each side), dropped elsewhere."""
    text, start, end = found.string, found.start(), found.end()
    inside = (start > 0 and end < len(text) and unicodedata.category(text[start - 1])[0] in "LM"
              and unicodedata.category(text[end])[0] in "LM")
    return found.group(0) if inside else ""


def normalize_title(title: str) -> str:
    """Case-, accent- and punctuation-insensitive form used to recognise the same paper.

    Letters and digits of every script are kept (two Chinese or Greek titles must not both
    reduce to nothing and be taken for one paper); a title of symbols alone is kept as written.
    """
    folded = title.casefold()
    words = _NON_WORD.sub(" ", fold_accents(folded)).strip()
    return words or " ".join(folded.split())


def author_slug(name: str) -> str:
    """URL path segment for an author page: "Zoë Ångström" -> "zoe-angstrom"."""
    slug = _NON_WORD.sub("-", fold_accents(name.casefold())).strip("-")
    return slug or "a" + hashlib.sha1(name.encode()).hexdigest()[:10]


def fold_accents(text: str) -> str:
    """Strip diacritics (é -> e); ASCII text, the common case, is returned as is."""
    if text.isascii():
        return text
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


# Two abstracts describe the same paper when this share of the shorter one's word pairs are in the
# other: versions of one abstract (a typo fixed, a sentence added, a listing's truncated excerpt)
# share most of theirs; two papers that happen to share a title share almost none.
ABSTRACT_AGREEMENT = 0.5


def abstracts_agree(first: str, second: str) -> bool:
    """Whether two abstracts are the same text give or take edits (normalised, word-pair overlap)."""
    a, b = normalize_title(first).split(), normalize_title(second).split()
    if a == b:
        return True
    pairs_a, pairs_b = _word_pairs(a), _word_pairs(b)
    if not pairs_a or not pairs_b:
        return False
    return len(pairs_a & pairs_b) >= ABSTRACT_AGREEMENT * min(len(pairs_a), len(pairs_b))


def _word_pairs(words: list[str]) -> set[tuple[str, ...]]:
    return set(zip(words, words[1:])) if len(words) > 1 else {tuple(words)} if words else set()


def title_key(title: str) -> str:
    """Public key of a paper without an arXiv id: short, stable, URL-safe."""
    return "t" + hashlib.sha1(normalize_title(title).encode()).hexdigest()[:11]


def parse_arxiv_id(value: str | None) -> str | None:
    """The versionless arXiv id in an id, 'arXiv:' reference or arxiv.org URL, else None."""
    if not value:
        return None
    text = value.strip()
    url = ARXIV_URL.search(text)
    if url:
        text = url.group(1)
    text = re.sub(r"^arxiv:", "", text, flags=re.I)
    for pattern in (NEW_ARXIV_ID, OLD_ARXIV_ID):
        found = pattern.fullmatch(text) or (url and pattern.search(text))
        if found:
            return found.group(1)
    return None


def parse_date(value: Any) -> date | None:
    """ISO date or datetime, YYYY-MM, YYYY, or an RFC 2822 date; None when absent."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, int) and 1000 <= value <= 9999:
        return date(value, 1, 1)
    if not isinstance(value, str):
        raise RecordError(f"date is not a string: {value!r:.40}")
    text = value.strip()
    try:
        if re.fullmatch(r"\d{4}", text):
            return date(int(text), 1, 1)
        if re.fullmatch(r"\d{4}-\d{2}", text):
            return date(int(text[:4]), int(text[5:]), 1)
        if re.match(r"\d{4}-\d{2}-\d{2}", text):
            if len(text) == 10:
                return date.fromisoformat(text)
            return datetime.fromisoformat(text.replace("Z", "+00:00")).date()
        return parsedate_to_datetime(text).date()
    except Exception:  # noqa: BLE001 - ValueError, OverflowError ("year 99999999999999999999")...
        raise RecordError(f"unrecognised date {text!r:.40}") from None


def _text_field(obj: dict, names: tuple[str, ...], limit: int, label: str) -> str:
    for name in names:
        value = obj.get(name)
        if value is None:
            continue
        if not isinstance(value, str):
            raise RecordError(f"{label} is not a string")
        if len(value) > limit * 4:
            raise RecordError(f"{label} too long ({len(value):,} characters, limit {limit:,})")
        text = clean_text(accents_to_unicode(value))
        if len(text) > limit:
            raise RecordError(f"{label} too long ({len(text):,} characters, limit {limit:,})")
        if text:
            return text
    raise RecordError(f"missing {label}")


def _authors(value: Any) -> tuple[str, ...] | None:
    if value is None or value == []:  # an empty list says no more than an empty string: keep what is known
        return None
    if isinstance(value, str):
        value = _listed_names(value)
    if isinstance(value, str):
        # Whitespace collapsed first: the split's "\s*" would try every start in a long run of it.
        value = clean_text(_strip_affiliations(value))
        parts = _LAST_FIRST_SPLIT.split(value)
        # "Smith, J.; Doe, A." (citation managers) or "Smith, John and Doe, Jane" (BibTeX): each
        # part one "Last, First" name. Otherwise commas part names too ("A, B and C").
        if ";" in value or len(parts) > 1 and all(p.count(",") == 1 for p in parts):
            names = [_first_last(n) for n in parts]
        else:
            names = _with_suffixes(_AUTHOR_SPLIT.split(value))
    elif isinstance(value, list):
        names = []
        for item in value:
            if isinstance(item, dict):
                item = item.get("name") or " ".join(
                    str(item[k]) for k in ("first", "given", "last", "family") if item.get(k))
            if not isinstance(item, str):
                raise RecordError("authors must be names (strings)")
            names.append(item)
    else:
        raise RecordError("authors must be a list or a string")
    if len(names) > MAX_AUTHORS:
        raise RecordError(f"too many authors ({len(names):,}, limit {MAX_AUTHORS:,})")
    kept = [n for n in (clean_text(latex_to_text(name)) for name in names) if n]
    if kept:  # "et al." closes a list, as a name of its own or after the last one
        kept[-1] = _without_et_al(kept[-1])
    cleaned = tuple(n for n in kept if n)
    if names and not cleaned:  # names made only of invisible characters, or "et al.": no authors given
        return None
    for name in cleaned:
        if len(name) > MAX_AUTHOR_CHARS:
            raise RecordError(f"author name too long ({len(name):,} characters)")
    return cleaned


def _url(obj: dict) -> str | None:
    for name in ("url", "link"):
        value = obj.get(name)
        if isinstance(value, list):  # arXiv API style: a list of links
            value = next((v.get("href") if isinstance(v, dict) else v for v in value), None)
        if isinstance(value, str) and value.strip():
            text = value.strip()
            if len(text) > MAX_URL_CHARS:
                raise RecordError("url too long")
            if not text.isprintable():  # controls, invisible formatting, lone surrogates
                raise RecordError(f"url contains invisible or invalid characters: {text!r:.40}")
            # Only web links: a javascript: or data: URL must never reach an href.
            if not _WEB_URL.match(text):
                raise RecordError(f"url is not an http(s) link: {text!r:.40}")
            return text
    return None


def latex_to_text(text: str) -> str:
    """LaTeX accents and braces in a name as Unicode: `G\\"odel` -> Gödel, `{\\AA}ngstr\\"om` -> Ångström."""
    if "\\" not in text and "{" not in text:
        return text  # the common case: nothing to convert, and the converter is slow
    global _LATEX
    if _LATEX is None:
        from pylatexenc.latex2text import LatexNodes2Text
        _LATEX = LatexNodes2Text(math_mode="verbatim", strict_latex_spaces=True)
    try:
        return _LATEX.latex_to_text(text)
    except Exception:  # noqa: BLE001 - a name the converter cannot read is kept as written
        return text


_LATEX = None
_PARENTHESIS = re.compile(r"[()]")
_SUFFIX = re.compile(r"(?i:jr|sr)\.?|II|III|IV")
MAX_LISTED_CHARS = 1_000_000  # a list of names read as a literal: thousands of names, a fifth of a second
# "et al." stands for authors a source left out, never for one: as a name of its own ("et al" from the
# snapshot's ["al", "et", ""]) or after the last name ("B. Jones et al.").
_ET_AL = re.compile(r"(?:^|\s+)et\.?\s*al\.?$", re.I)


def _without_et_al(name: str) -> str:
    # Only a name ending in "al" can end in "et al.": the common case costs no regex.
    return _ET_AL.sub("", name) if name[-3:].rstrip(".").lower().endswith("al") else name


def _listed_names(value: str) -> str | list:
    """A list as pandas writes it into a cell, "['Ann Lee', 'Bob Ray']", as that list; else the string.
    Read as a Python literal only (never run), and only when short enough to cost little."""
    text = value.strip()
    if not (text.startswith("[") and text.endswith("]")) or len(text) > MAX_LISTED_CHARS:
        return value
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # an escape Python does not know ("\\H{o}"): not a literal
            listed = ast.literal_eval(text)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError, Warning):
        return value
    if isinstance(listed, list) and all(isinstance(name, str) for name in listed):
        return listed
    return value


def _with_suffixes(names: list[str]) -> list[str]:
    """"King, Jr., Jane Doe": a suffix set off by a comma belongs to the name before it."""
    joined: list[str] = []
    for name in names:
        if joined and _SUFFIX.fullmatch(name):
            joined[-1] = f"{joined[-1]} {name}"
        else:
            joined.append(name)
    return joined


def _first_last(name: str) -> str:
    """"Smith, J." -> "J. Smith", as the name is written elsewhere; other names as they are."""
    last, comma, first = name.partition(",")
    if comma and last.strip() and first.strip() and "," not in first:
        return f"{first.strip()} {last.strip()}"
    return name


def _strip_affiliations(value: str) -> str:
    """arXiv author strings carry affiliations in parentheses: "A. Author (MIT), B. Author", or numbered,
    "A (1), B (2) ((1) MIT, (2) CERN)". Each outermost matched pair goes whole, whatever it nests (the
    commas of a block of affiliations part no names); a parenthesis never closed is kept as text."""
    if "(" not in value:
        return value
    opened: list[int] = []
    spans: list[tuple[int, int]] = []  # outermost pairs, in order
    for found in _PARENTHESIS.finditer(value):
        if found.group() == "(":
            opened.append(found.start())
        elif opened:
            start = opened.pop()
            while spans and spans[-1][0] > start:  # pairs it encloses
                spans.pop()
            spans.append((start, found.end()))
    parts, at = [], 0
    for start, end in spans:
        parts += (value[at:start], " ")
        at = end
    return "".join(parts) + value[at:]


def _parsed_authors(value: Any) -> list[str] | None:
    """The snapshot's `authors_parsed`: [[last, first, suffix, affiliation...], ...] as names."""
    if not isinstance(value, list) or not value:
        return None
    names = []
    for item in value:
        if not (isinstance(item, list) and item and all(isinstance(p, str) for p in item)):
            return None
        last, first, suffix = (item + ["", ""])[:3]
        names.append(" ".join(p for p in (first, last, suffix) if p.strip()))
    return names


_CODE_FIELDS = ("categories", "acm_class", "acm-class", "msc_class", "msc-class")
_DATE_FIELDS = ("published", "publishedAt", "date", "created", "update_date", "updated")


def _published(obj: dict, dropped: list[str]) -> date | None:
    value = obj.get("published")
    if value:  # the common case first
        try:
            return parse_date(value)
        except RecordError:
            pass
    candidates = [obj.get(name) for name in _DATE_FIELDS[:4]]
    versions = obj.get("versions")
    if isinstance(versions, list) and versions and isinstance(versions[0], dict):
        candidates.append(versions[0].get("created"))  # the first version: when it appeared
    candidates += [obj.get(name) for name in _DATE_FIELDS[4:]]
    for value in candidates:
        if value in (None, ""):
            continue
        try:
            return parse_date(value)
        except RecordError:
            dropped.append(f"dropped date {str(value)!r:.60}")
    return None


def _revised(obj: dict) -> date | None:
    """The date of the record's latest revision, where a versioned source says it; else None."""
    versions = obj.get("versions")
    latest = versions[-1].get("created") if isinstance(versions, list) and versions and isinstance(
        versions[-1], dict) else None
    for value in (obj.get("revised"), obj.get("update_date"), obj.get("updated"), latest):
        if value not in (None, ""):
            try:
                return parse_date(value)
            except RecordError:
                continue  # an unreadable date here only means the record is not dated
    return None


def _upvotes(value: Any, dropped: list[str]) -> int | None:
    if value is None:
        return None
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit() and len(value) < 20:
        value = int(value)  # "12": a count written as text (CSV exports, some scrapers)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_UPVOTES:
        dropped.append(f"dropped upvotes {str(value)!r:.30}")
        return None
    return value


def _daily_entry(obj: dict) -> dict:
    """A daily-papers entry nests the paper: {"paper": {id, title, summary, upvotes...}, ...}."""
    paper = obj["paper"]
    merged = {k: v for k, v in obj.items() if k != "paper"}
    merged.update(paper)
    return merged


def record_from_mapping(obj: Any) -> PaperIn:
    """Validate one JSON object with arXiv-like fields into a PaperIn.

    Title and abstract are required; every other field that fails validation is
    left out of the record and named in `dropped`. Whatever goes wrong inside
    (an overflow, a recursion limit, a value no rule foresaw) is this record's
    RecordError, never the file's.
    """
    try:
        return _record_from_mapping(obj)
    except Exception as exc:  # noqa: BLE001 - one record's failure, reported with its line
        raise as_record_error(exc) from None


def as_record_error(exc: Exception) -> RecordError:
    """Any failure met while reading one record, as that record's RecordError."""
    if isinstance(exc, RecordError):
        return exc
    return RecordError(f"unreadable record ({type(exc).__name__}: {clean_text(str(exc))[:100]})")


def _record_from_mapping(obj: Any) -> PaperIn:
    if not isinstance(obj, dict):
        raise RecordError(f"expected a JSON object, got {type(obj).__name__}")
    if isinstance(obj.get("paper"), dict):
        obj = _daily_entry(obj)
    title = _text_field(obj, ("title",), MAX_TITLE_CHARS, "title")
    abstract = _text_field(obj, ("abstract", "summary"), MAX_ABSTRACT_CHARS, "abstract")
    dropped: list[str] = []
    try:
        url = _url(obj)
    except RecordError as exc:
        url = None
        dropped.append(f"dropped url ({exc})")
    # The first id field that says something: a null or empty "arxiv_id" does not hide a good "id".
    raw_id = next((v for v in (obj.get("arxiv_id"), obj.get("id")) if v not in (None, "")), None)
    # A numeric id is not trusted: JSON numbers drop trailing zeros (2310.06820 -> 2310.0682).
    arxiv_id = parse_arxiv_id(raw_id) if isinstance(raw_id, str) else None
    if arxiv_id is None and url:
        arxiv_id = parse_arxiv_id(url)
    if arxiv_id is None and raw_id not in (None, ""):
        # Loaded under its title's key instead; said, so a whole file of such ids is noticed.
        why = "not an arXiv id" if isinstance(raw_id, str) else "not a string"
        dropped.append(f"dropped id {str(raw_id)!r:.60} ({why})")
    published = _published(obj, dropped)
    if url is None and arxiv_id:
        url = f"https://arxiv.org/abs/{arxiv_id}"
    authors = None
    try:
        # The snapshot's parsed list is cleaner than its one-string form (no affiliations).
        authors = _authors(_parsed_authors(obj.get("authors_parsed")) or obj.get("authors"))
    except RecordError as exc:
        dropped.append(f"dropped authors ({exc})")
    categories = classifications = None
    sorted_codes = None
    for name in _CODE_FIELDS:
        value = obj.get(name)
        if value is None:
            continue
        found = sort_field(value)
        if found is None:
            dropped.append(f"dropped {name} (not a list or a string)")
        elif sorted_codes is None:
            sorted_codes = found
        else:  # classes in their own fields (OAI-PMH acm-class, msc-class) join the categories'
            sorted_codes = tuple(a + tuple(x for x in b if x not in a) for a, b in zip(sorted_codes, found))
    if sorted_codes is not None:
        categories, classifications, drops = sorted_codes
        categories, classifications = categories or None, classifications or None
        dropped.extend(drops)
    return PaperIn(title=title, abstract=abstract, authors=authors, published=published,
                   arxiv_id=arxiv_id, categories=categories, url=url, classifications=classifications,
                   upvotes=_upvotes(obj.get("upvotes"), dropped), revised=_revised(obj), dropped=tuple(dropped))


def record_from_text(title: str, abstract: str) -> PaperIn:
    """A title/abstract pair from a text page (no other metadata)."""
    return record_from_mapping({"title": title, "abstract": abstract})
