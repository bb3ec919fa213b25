"""The user query language (whoosh syntax) compiled to a typed plan (app/plan.py).

whoosh parses; we compile its tree ourselves into a text tree (what must occur,
which the engine renders in its own syntax, quoting every token) and a filter
tree (tags, years, ids, and full-text sub-queries under OR / NOT), which the
catalogue evaluates on bitsets and tagging over a batch. Any input whoosh cannot
parse falls back to a plain bag of words; a query past a bound of the cost model
(search/cost.py: operators, nesting, ...) is refused. No engine syntax is written here.
"""

import re
import tomllib
import unicodedata
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from functools import lru_cache
from pathlib import Path

from whoosh import qparser
from whoosh import query as wq
from whoosh.qparser import syntax
from whoosh.lang.porter import stem

from app.search import cost
from app.plan import (
    And, AnyOf, Filter, Matches, Not, Or, PaperId, Published, Tag, TagPrefix, Text, Words, Years, all_of, and_,
    any_of,
)

MAX_QUERY_CHARS = 500  # cap BEFORE parsing: whoosh's parser is quadratic in input length
YEARS = (1, 9999)       # a year bound outside is the nearest year (numbers of any length can be typed)
SYNONYMS_FILE = Path(__file__).with_name("synonyms.toml")

DEFAULT_FIELD = "text"
COLUMNS = {"title": ("title",), "abstract": ("abstract",), "author": ("authors",), "authors": ("authors",)}
OPERATOR_WORDS = frozenset({"AND", "OR", "NOT", "ANDNOT", "ANDMAYBE", "REQUIRE"})


@dataclass(frozen=True)
class Refusal:
    """A bound of the cost model a query goes past: its name (as the API reports it) and why, in words."""
    limit: str
    message: str


@dataclass(frozen=True)
class CompiledQuery:
    text: str                     # the (capped, cleaned) query as the user gave it
    match: Text | None            # the ranked full-text part, or None
    filter: Filter | None         # what else a paper must satisfy, or None
    terms: tuple[str, ...]        # plain words/phrases searched for, lower-cased, unstemmed
    expansions: tuple[tuple[str, str], ...]  # synonym expansions applied
    tags: tuple[str, ...]         # tag slugs required by top-level tag: fields
    not_tags: tuple[str, ...]     # tag slugs excluded at top level
    is_empty: bool                # nothing to search for: the caller browses everything
    # The top-level conjuncts of `match` and its exclusions: loosen() rebuilds it from them.
    parts: tuple[Text, ...] = field(default=(), repr=False, compare=False)
    excluded: tuple[Text, ...] = field(default=(), repr=False, compare=False)
    # (term, text node) for each positive leaf, so tagging can explain a match.
    leaves: tuple[tuple[str, Text], ...] = field(default=(), repr=False, compare=False)
    # Set when the query asks for more than the cost model allows: nothing is searched.
    refused: Refusal | None = None


# --- tokens ------------------------------------------------------------------------

@lru_cache(maxsize=4096)
def _is_token_char(ch: str) -> bool:
    # unicode61 keeps letters, numbers and private-use characters; measured against
    # SQLite it also keeps combining marks and code points unassigned in its tables.
    cat = unicodedata.category(ch)
    return cat[0] in "LNM" or cat in ("Co", "Cn")


def fts_tokens(text: str) -> list[str]:
    """Split text the way FTS5's unicode61 tokenizer does, lower-cased."""
    tokens, current = [], []
    for ch in text:
        if _is_token_char(ch):
            current.append(ch)
        elif current:
            tokens.append("".join(current).lower())
            current = []
    if current:
        tokens.append("".join(current).lower())
    return tokens


def _leaf(tokens, columns: tuple[str, ...] | None, prefix: bool = False) -> Words:
    return Words(tuple(tokens), columns or (), prefix)


def _stems(tokens) -> tuple[str, ...]:
    return tuple(stem(t) for t in tokens)


# --- synonyms ----------------------------------------------------------------------

@dataclass(frozen=True)
class _Group:
    members: tuple[tuple[str, ...], ...]   # token tuples, first is the short form
    one_way: bool                          # only the first member expands


@lru_cache(maxsize=1)
def _synonyms() -> tuple[dict[tuple[str, ...], _Group], int]:
    """Stemmed member -> group, and the longest member in tokens."""
    data = tomllib.loads(SYNONYMS_FILE.read_text(encoding="utf-8"))
    index: dict[tuple[str, ...], _Group] = {}
    longest = 1
    for key, one_way in (("equivalent", False), ("abbreviations", True)):
        for names in data.get(key, []):
            group = _Group(tuple(tuple(fts_tokens(n)) for n in names), one_way)
            triggers = group.members[:1] if one_way else group.members
            for member in triggers:
                index[_stems(member)] = group
                longest = max(longest, len(member))
    return index, longest


def synonym_phrases() -> list[Words]:
    """Every synonym member of several words, as the phrase a query expands to (the search
    warms the frequent ones: "LLM" is searched as "large language model" too)."""
    index, _ = _synonyms()
    members = {m for group in index.values() for m in group.members if len(m) > 1}
    return [_leaf(m, None) for m in sorted(members)]


# --- parsing -----------------------------------------------------------------------

class _Once(syntax.BinaryGroup):
    """whoosh's BinaryGroup.query() builds each side twice, so a chain of n ANDNOT, ANDMAYBE or
    REQUIRE costs 2^n (22 of them: 20 seconds); this builds each side once."""

    def query(self, parser):
        qa, qb = (node.query(parser) for node in self.nodes)
        if qa is None or qb is None:
            q = qa if qb is None else qb
            return syntax.attach(q if q is not None else wq.NullQuery, self)
        return syntax.attach(self.qclass(qa, qb), self)


class _AndNot(_Once):
    qclass = wq.AndNot


class _AndMaybe(_Once):
    qclass = wq.AndMaybe


class _Require(_Once):
    qclass = wq.Require


def _make_parser() -> qparser.QueryParser:
    parser = qparser.QueryParser(DEFAULT_FIELD, None)
    parser.add_plugin(qparser.GtLtPlugin())  # year:>2020, year:<=2023
    ops = qparser.OperatorsPlugin
    tagger = ops.OpTagger
    parser.replace_plugin(ops(clean=True, ops=[
        (tagger(r"(^|(?<=(\s|[()])))NOT(?=\s)", syntax.NotGroup, syntax.PrefixOperator, memo="not"), 0),
        (tagger(r"(?<=\s)AND(?=\s)", syntax.AndGroup, memo="and"), 0),
        (tagger(r"(?<=\s)OR(?=\s)", syntax.OrGroup, memo="or"), 0),
        (tagger(r"(?<=\s)ANDNOT(?=\s)", _AndNot, memo="anot"), -5),
        (tagger(r"(?<=\s)ANDMAYBE(?=\s)", _AndMaybe, memo="amaybe"), -5),
        (tagger(r"(^|(?<=\s))REQUIRE(?=\s)", _Require, memo="req"), 0),
    ]))
    return parser


_PARSER = _make_parser()
_FIELD_GAP = re.compile(r"\b(title|abstract|authors?|tag|year|published|id):\s+", re.IGNORECASE)
_ARXIV_PREFIX = re.compile(r"\bid:arxiv:", re.IGNORECASE)


def _clean(text) -> str:
    text = str(text or "")[:MAX_QUERY_CHARS]
    # Control characters (NUL included) and lone surrogates become spaces: they
    # mean nothing in a query, and surrogates cannot even be encoded for SQLite.
    text = "".join(" " if unicodedata.category(ch) in ("Cc", "Cs") else ch for ch in text)
    return " ".join(text.split())


def _prepare(text: str) -> str:
    """Rewrite the conveniences whoosh lacks into its syntax."""
    text = _FIELD_GAP.sub(lambda m: m.group(1) + ":", text)  # "title: foo" -> "title:foo"
    text = _ARXIV_PREFIX.sub("id:", text)
    return _minus_to_not(text)


def _minus_to_not(text: str) -> str:
    """-word, -"phrase", -(group), -field:x  ->  NOT ... (outside quotes, at a word start).

    whoosh's own PlusMinusPlugin reads "self-attention" as self NOT attention.
    """
    out, in_quote, prev = [], False, " "
    for i, ch in enumerate(text):
        if ch == '"':
            in_quote = not in_quote
        if (ch == "-" and not in_quote and (prev.isspace() or prev == "(")
                and i + 1 < len(text) and not text[i + 1].isspace() and text[i + 1] != "-"):
            out.append("NOT ")
        else:
            out.append(ch)
        prev = ch
    return "".join(out)


_BINARY = (wq.AndNot, wq.AndMaybe, wq.Require)


def _depth(q) -> int:
    """How deeply a parsed query nests. A chain of binary operators ("a ANDNOT b ANDNOT c")
    parses into a tree as deep as the chain is long, but compiles to one flat conjunction:
    it counts as one level, like "a b c", so it is bounded by the operator count alone."""
    if isinstance(q, _BINARY):
        children = []
        while isinstance(q, _BINARY):  # walk down the left-hand spine of the chain
            children.append(q.b)
            q = q.a
        children.append(q)
    elif isinstance(q, wq.CompoundQuery):
        children = q.subqueries
    else:
        children = (q.query,) if isinstance(q, wq.Not) else ()
    return 1 + max((_depth(c) for c in children), default=0)


# --- compiling ---------------------------------------------------------------------

@dataclass
class _Piece:
    """A conjunction: all `parts` match, no `excluded` matches, every `preds` holds."""
    parts: list[Text] = field(default_factory=list)
    excluded: list[Text] = field(default_factory=list)
    preds: list[Filter] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)      # from tag: leaves of this conjunction
    not_tags: list[str] = field(default_factory=list)

    def is_fts(self) -> bool:
        return bool(self.parts) and not self.preds

    def fts(self) -> Text:
        """This conjunction as one text node (requires parts)."""
        return all_of(self.parts, self.excluded)

    def predicate(self) -> Filter:
        """This conjunction as one filter."""
        nodes: list[Filter] = []
        if self.parts:
            nodes.append(Matches(self.fts()))
        elif self.excluded:
            nodes.append(Not(Matches(any_of(self.excluded))))
        nodes.extend(self.preds)
        return and_(nodes) or And(())


class _Compiler:
    def __init__(self, synonyms: bool, default_columns: tuple[str, ...] | None):
        self.synonyms = synonyms
        self.default_columns = default_columns
        self.terms: list[str] = []
        self.expansions: list[tuple[str, str]] = []
        self.leaves: list[tuple[str, str]] = []

    # Each method returns a _Piece, or None when the node asks for nothing
    # (noise, empty tokens, match-everything).

    def node(self, q, negated: bool = False) -> _Piece | None:
        if isinstance(q, wq.Not):
            return self.not_(q.query, negated)
        if isinstance(q, wq.AndNot):
            return self.and_([q.a, wq.Not(q.b)], negated)
        if isinstance(q, (wq.AndMaybe, wq.Otherwise)):
            return self.node(q.a, negated)  # the optional side only reorders in whoosh
        if isinstance(q, (wq.And, wq.Require)):
            return self.and_(list(q.subqueries), negated)
        if isinstance(q, wq.Or):
            return self.or_(list(q.subqueries), negated)
        if isinstance(q, (wq.Term, wq.Phrase, wq.Prefix, wq.Wildcard, wq.TermRange)):
            return self.leaf(q, negated)
        return None  # Every, NullQuery: no constraint

    def and_(self, children, negated) -> _Piece | None:
        result = _Piece()
        for child in self._expand_runs(children, negated):
            piece = child if isinstance(child, _Piece) else self.node(child, negated)
            if piece is not None:
                for name in ("parts", "excluded", "preds", "tags", "not_tags"):
                    merged = getattr(result, name)  # "tag:x tag:x" is one condition
                    merged.extend(x for x in getattr(piece, name) if x not in merged)
        return result if (result.parts or result.excluded or result.preds) else None

    def or_(self, children, negated) -> _Piece | None:
        pieces = [p for p in (self.node(c, negated) for c in children) if p is not None]
        if len(pieces) <= 1:
            return pieces[0] if pieces else None
        if all(p.is_fts() for p in pieces):
            return _Piece(parts=[AnyOf(tuple(p.fts() for p in pieces))])
        return _Piece(preds=[Or(tuple(p.predicate() for p in pieces))])

    def not_(self, child, negated) -> _Piece | None:
        piece = self.node(child, not negated)
        if piece is None:
            return None
        if piece.is_fts():
            return _Piece(excluded=[piece.fts()], not_tags=piece.tags)
        if not piece.parts and not piece.preds:  # NOT NOT x is x
            return _Piece(parts=[any_of(piece.excluded)])
        return _Piece(preds=[Not(piece.predicate())],
                      not_tags=piece.tags if len(piece.preds) == 1 and not piece.parts else [])

    # --- leaves

    def leaf(self, q, negated) -> _Piece | None:
        fieldname = q.fieldname or DEFAULT_FIELD
        if isinstance(q, wq.TermRange):
            if fieldname == "year":
                return self.year_range(q)
            if fieldname == "published":  # published:>2026-02 starts after February
                start = _day(q.start, last=bool(q.startexcl))
                end = _day(q.end, last=not q.endexcl)
                return _published_bounds(start and start + timedelta(days=bool(q.startexcl)),
                                         end and end - timedelta(days=bool(q.endexcl)))
            # A range over text means nothing to FTS5: search its two ends as words.
            return self.and_([wq.Term(fieldname, end) for end in (q.start, q.end) if end], negated)
        raw = " ".join(q.words) if isinstance(q, wq.Phrase) else q.text
        if fieldname == "tag":
            return self.tag(raw, prefix=isinstance(q, (wq.Prefix, wq.Wildcard)))
        if fieldname == "year":
            piece = self.year(raw)
            return piece if piece else self.text(DEFAULT_FIELD, f"year {raw}", negated)
        if fieldname == "published":
            piece = self.published(raw)
            return piece if piece else self.text(DEFAULT_FIELD, f"published {raw}", negated)
        if fieldname == "id":
            return self.id_(raw)
        if fieldname != DEFAULT_FIELD and fieldname not in COLUMNS:
            # An unknown field is just text: "foo:bar" is what FTS5 indexes as "foo bar".
            raw, fieldname = f"{fieldname} {raw}", DEFAULT_FIELD
        if isinstance(q, wq.Term) and fieldname == DEFAULT_FIELD and (
                raw in OPERATOR_WORDS or _is_dangling_field(raw)):
            return None  # a dangling operator or a field still being typed
        if isinstance(q, wq.Phrase):
            return self.text(fieldname, raw, negated, expand=False)
        if isinstance(q, (wq.Prefix, wq.Wildcard)):
            return self.prefix(fieldname, q.text, negated)
        return self.text(fieldname, raw, negated)

    def columns(self, fieldname: str) -> tuple[str, ...] | None:
        return COLUMNS.get(fieldname, self.default_columns)

    def text(self, fieldname, raw, negated, expand=True) -> _Piece | None:
        tokens = fts_tokens(raw)
        if not tokens:
            return None
        if expand and self.synonyms:
            piece = self.synonym(fieldname, tokens, negated)
            if piece:
                return piece
        expr = _leaf(tokens, self.columns(fieldname))
        self._record(" ".join(tokens), expr, negated)
        return _Piece(parts=[expr])

    def prefix(self, fieldname, raw, negated) -> _Piece | None:
        # FTS5 has prefix search only: "a*b" and "a?b" become the prefix "a".
        head, _, tail = re.split(r"([*?])", raw + "*", maxsplit=1)
        tokens = fts_tokens(head)
        if not tokens:
            return self.text(fieldname, tail, negated, expand=False) if tail else None
        # A one- or two-letter prefix expands to thousands of terms (seconds on a large
        # catalogue, with no prefix index): it is searched as the word itself.
        expr = _leaf(tokens, self.columns(fieldname), prefix=len(tokens[-1]) >= MIN_PREFIX_CHARS)
        self._record(" ".join(tokens), expr, negated)
        return _Piece(parts=[expr])

    def synonym(self, fieldname, tokens, negated) -> _Piece | None:
        index, _ = _synonyms()
        group = index.get(_stems(tokens))
        if group is None:
            return None
        typed = " ".join(tokens)
        others = [m for m in group.members if _stems(m) != _stems(tokens)]
        columns = self.columns(fieldname)
        exprs = [_leaf(tokens, columns)] + [_leaf(m, columns) for m in others]
        self._record(typed, exprs[0], negated)
        for member, expr in zip(others, exprs[1:]):
            self.expansions.append((typed, " ".join(member)))
            if not negated:
                self.leaves.append((" ".join(member), expr))
        return _Piece(parts=[any_of(exprs)])

    def _expand_runs(self, children, negated):
        """Replace runs of plain words that spell a synonym ("mixture of experts") by one piece."""
        if not self.synonyms:
            yield from children
            return
        index, longest = _synonyms()
        i = 0
        while i < len(children):  # a generator, so terms keep the order they were typed in
            for j in range(min(len(children), i + longest), i + 1, -1):
                run = children[i:j]
                if not all(_plain_word(c) and c.fieldname == run[0].fieldname for c in run):
                    continue
                tokens = [t for c in run for t in fts_tokens(c.text)]
                if _stems(tokens) in index:
                    yield self.synonym(run[0].fieldname, tokens, negated)
                    i = j
                    break
            else:
                yield children[i]
                i += 1

    def _record(self, term: str, expr: Text, negated: bool) -> None:
        if not negated:
            if term not in self.terms:
                self.terms.append(term)
            self.leaves.append((term, expr))

    # --- filters

    def tag(self, raw, prefix=False) -> _Piece | None:
        slug = raw.strip().rstrip("*?") if prefix else raw.strip()
        if not slug:
            return None
        if prefix:
            return _Piece(preds=[TagPrefix(slug)])
        # Case-insensitive so tag:cs.lg finds cs.LG.
        return _Piece(preds=[Tag(slug)], tags=[slug])

    def year(self, raw) -> _Piece | None:
        m = _YEAR.fullmatch(raw.strip())
        if not m:
            return None
        single = m.group("single")
        start, end = m.group("start") or m.group("dash_start"), m.group("end") or m.group("dash_end")
        if single:
            return _Piece(preds=[Years(_year(single), _year(single))])
        return _year_bounds(_year(start), _year(end))

    def published(self, raw) -> _Piece | None:
        """A day, month or year, or a range of them: 2026-03-05, 2026-03, 2026-01..2026-03, 2026-02.."""
        start, dots, end = raw.strip().partition("..")
        if not dots:
            return _published_bounds(_day(start, last=False), _day(start, last=True))
        first, last = _day(start, last=False), _day(end, last=True)
        if (start.strip() and first is None) or (end.strip() and last is None):
            return None
        if first and last and first > _day(end, last=False):  # 2026-03..2026-01 means the same months
            first, last = _day(end, last=False), _day(start, last=True)
        return _published_bounds(first, last)

    def year_range(self, q) -> _Piece | None:
        start = _year(q.start)
        end = _year(q.end)
        return _year_bounds(None if start is None else start + q.startexcl,
                            None if end is None else end - q.endexcl)

    def id_(self, raw) -> _Piece | None:
        key = raw.strip()
        if not key:
            return None
        arxiv_id = re.sub(r"v\d+$", "", key)  # any version is the same paper
        return _Piece(preds=[PaperId(arxiv_id, key)])


MIN_PREFIX_CHARS = 3
# Years of any length are years (year:1..2026 is every year to 2026), brought into YEARS by _year;
# with a dash both are written in full (year:2024-03 is no range of years 3 to 2024).
_YEAR = re.compile(r"(?P<single>\d+)|(?P<start>\d+)?\s*\.\.\s*(?P<end>\d+)?"
                   r"|(?P<dash_start>\d{4})?\s*[-–]\s*(?P<dash_end>\d{4})?")


def _year(raw) -> int | None:
    """A year bound as written, brought into YEARS (year:[0 TO 99999999999999999999] is every year)."""
    text = str(raw or "").strip()
    if not (text.isascii() and text.isdigit()):
        return None
    digits = text.lstrip("0") or "0"  # never int() of a long string: its cost grows with the length
    return YEARS[1] + 1 if len(digits) > 5 else min(max(int(digits), YEARS[0] - 1), YEARS[1] + 1)


def _year_bounds(start: int | None, end: int | None) -> _Piece | None:
    if start is not None and end is not None:
        start, end = min(start, end), max(start, end)  # year:2023..2020 means the same years
    if start is None and end is None:
        return None
    return _Piece(preds=[Years(start, end)])


_DAY = re.compile(r"(\d{4})(?:-(\d{1,2})(?:-(\d{1,2}))?)?")


def _day(raw, last: bool) -> date | None:
    """The first (or last) day of a year, month or day written YYYY[-MM[-DD]]; None if it is not one."""
    m = _DAY.fullmatch(str(raw or "").strip())
    if not m:
        return None
    year, month, day = int(m.group(1)), m.group(2), m.group(3)
    try:
        if day:
            return date(year, int(month), int(day))
        if month:
            first = date(year, int(month), 1)
            following = date(year + (first.month == 12), first.month % 12 + 1, 1)
            return following - timedelta(days=1) if last else first
        return date(year, 12, 31) if last else date(year, 1, 1)
    except ValueError:
        return None


day_of = _day  # the web edge reads `from`/`to` the way the query language reads published:


def _published_bounds(start: date | None, end: date | None) -> _Piece | None:
    if start is None and end is None:
        return None
    if start is not None and end is not None and start > end:
        start, end = end, start
    return _Piece(preds=[Published(start, end)])


def _plain_word(q) -> bool:
    return (type(q) is wq.Term and (q.fieldname or DEFAULT_FIELD) in (DEFAULT_FIELD, *COLUMNS)
            and q.text not in OPERATOR_WORDS)


def _is_dangling_field(raw: str) -> bool:
    return raw.endswith(":") and raw[:-1].lower() in (*COLUMNS, "tag", "year", "published", "id")


# --- public ------------------------------------------------------------------------

@lru_cache(maxsize=1024)
def compile_query(text: str, *, synonyms: bool = True,
                  default_columns: tuple[str, ...] | None = None) -> CompiledQuery:
    """Compile a user query into a plan; never raises, and the engine can render any plan it returns.

    `default_columns` restricts unfielded words to some FTS5 columns, e.g.
    ("title", "abstract") for topic rules, where an author named Moe is not MoE.
    """
    text = _clean(text)
    prepared = _prepare(text)
    operators = len(_OPERATOR.findall(_QUOTED.sub(" ", prepared)))
    if operators > cost.MAX_OPERATORS:  # refused before parsing: parse time grows with them
        return _refused(text, "max_operators", f"This query has {operators} operators (AND, OR, NOT, -word); "
                                               f"a query may have at most {cost.MAX_OPERATORS}.")
    if _paren_depth(prepared) > cost.MAX_NESTING:  # refused before parsing, like the operators
        return _nests_too_deeply(text)
    compiler = _Compiler(synonyms, default_columns)
    try:
        tree = _PARSER.parse(prepared, normalize=False)
        for leaf in tree.leaves():  # "Title:robot" is title:robot (phones capitalise the first letter)
            if leaf.fieldname:
                leaf.fieldname = leaf.fieldname.lower()
        # Past the bound the query is refused, never read as plain words: dropping its
        # operators would turn what it excludes into what it requires.
        if _depth(tree) > cost.MAX_NESTING:
            return _nests_too_deeply(text)
        piece = compiler.node(tree)
    except Exception:  # noqa: BLE001 - any parser failure degrades to plain words
        compiler = _Compiler(synonyms, default_columns)
        words = [wq.Term(DEFAULT_FIELD, w) for w in text.split() if w not in OPERATOR_WORDS]
        piece = compiler.and_(words, False)
    compiled = _finish(text, piece or _Piece(), compiler)
    refusal = cost.plan_refusal(compiled.match, compiled.filter)
    return _refused(text, *refusal) if refusal else compiled


_QUOTED = re.compile(r'"[^"]*"?')
_OPERATOR = re.compile(r"(?<!\S)(?:AND|OR|NOT|ANDNOT|ANDMAYBE|REQUIRE)(?!\S)|(?<![^\s(])NOT\b")


def _paren_depth(text: str) -> int:
    depth = deepest = 0
    for ch in _QUOTED.sub(" ", text):
        if ch == "(":
            depth += 1
            deepest = max(deepest, depth)
        elif ch == ")":
            depth = max(0, depth - 1)
    return deepest


def _nests_too_deeply(text: str) -> CompiledQuery:
    return _refused(text, "max_nesting", "This query nests groups (brackets, NOT, OR) too deeply; "
                                         f"a query may nest at most {cost.MAX_NESTING} deep.")


def _refused(text: str, limit: str, message: str) -> CompiledQuery:
    """A query past a bound: nothing to search, and why."""
    return CompiledQuery(text=text, match=None, filter=None, terms=(), expansions=(), tags=(), not_tags=(),
                         is_empty=False, refused=Refusal(limit, message))


def _finish(text: str, piece: _Piece, compiler: _Compiler) -> CompiledQuery:
    match = piece.fts() if piece.parts else None
    preds = list(piece.preds)
    if not piece.parts and piece.excluded:
        preds.insert(0, Not(Matches(any_of(piece.excluded))))
    where = and_(preds)
    return CompiledQuery(
        text=text, match=match, filter=where,
        terms=tuple(compiler.terms),
        expansions=tuple(dict.fromkeys(compiler.expansions)),
        tags=tuple(dict.fromkeys(piece.tags)),
        not_tags=tuple(dict.fromkeys(piece.not_tags)),
        is_empty=match is None and where is None,
        parts=tuple(piece.parts), excluded=tuple(piece.excluded),
        leaves=tuple(dict.fromkeys(compiler.leaves)),
    )


def loosen(compiled: CompiledQuery) -> CompiledQuery | None:
    """The ranked-OR fallback: any of the top-level words instead of all of them.

    Filters and exclusions still apply. None when there is nothing to loosen.
    """
    if len(compiled.parts) < 2:
        return None
    match = all_of([AnyOf(compiled.parts)], compiled.excluded)
    return replace(compiled, match=match, is_empty=False, parts=(match,), excluded=())
