"""The user query language (whoosh syntax) compiled to an FTS5 MATCH expression plus SQL filters.

whoosh parses; we compile its tree ourselves. Two rules make any input safe:
every token reaching FTS5 is double-quoted, so user text is never FTS5 syntax,
and any input whoosh cannot parse (or nests too deeply) falls back to a plain
bag of words. Nothing else in the project builds FTS SQL.
"""

import re
import tomllib
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from whoosh import qparser
from whoosh import query as wq
from whoosh.lang.porter import stem

MAX_QUERY_CHARS = 500  # cap BEFORE parsing: whoosh's parser is quadratic in input length
# FTS5's expression parser overflows its stack near 50 nested groups; people use two or three.
MAX_NESTING = 12
SYNONYMS_FILE = Path(__file__).with_name("synonyms.toml")

DEFAULT_FIELD = "text"
COLUMNS = {"title": "title", "abstract": "abstract", "author": "authors", "authors": "authors"}
OPERATOR_WORDS = frozenset({"AND", "OR", "NOT", "ANDNOT", "ANDMAYBE"})
FTS_SUBQUERY = "SELECT rowid FROM papers_fts WHERE papers_fts MATCH ?"
TAG_SUBQUERY = "SELECT pt.paper_id FROM paper_tags pt JOIN tags t ON t.id = pt.tag_id WHERE "


@dataclass(frozen=True)
class CompiledQuery:
    text: str                     # the (capped, cleaned) query as the user gave it
    match: str | None             # FTS5 MATCH expression for the ranked full-text part, or None
    where: str | None             # extra SQL predicate over papers aliased `p`, or None
    params: tuple                 # parameters for `where` (qmark style, in order)
    terms: tuple[str, ...]        # plain words/phrases searched for, lower-cased, unstemmed
    expansions: tuple[tuple[str, str], ...]  # synonym expansions applied
    tags: tuple[str, ...]         # tag slugs required by top-level tag: fields
    not_tags: tuple[str, ...]     # tag slugs excluded at top level
    is_empty: bool                # nothing to search for: the caller browses everything
    # The top-level conjuncts of `match` and its exclusions, kept so loosen() can
    # rebuild it without reparsing.
    _parts: tuple[str, ...] = field(default=(), repr=False, compare=False)
    _excluded: tuple[str, ...] = field(default=(), repr=False, compare=False)
    # (term, FTS5 expression) for each positive leaf, so tagging can explain a match.
    _leaves: tuple[tuple[str, str], ...] = field(default=(), repr=False, compare=False)


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


def quote(tokens: list[str] | tuple[str, ...]) -> str:
    """One FTS5 string (a phrase when several tokens): the only way user text reaches FTS5."""
    return '"' + " ".join(tokens).replace('"', '""') + '"'


def _leaf(tokens, columns: str | None, prefix: bool = False) -> str:
    expr = quote(tokens) + (" *" if prefix else "")
    return f"{columns} : {expr}" if columns else expr


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


# --- parsing -----------------------------------------------------------------------

def _make_parser() -> qparser.QueryParser:
    parser = qparser.QueryParser(DEFAULT_FIELD, None)
    parser.add_plugin(qparser.GtLtPlugin())  # year:>2020, year:<=2023
    return parser


_PARSER = _make_parser()
_FIELD_GAP = re.compile(r"\b(title|abstract|authors?|tag|year|id):\s+", re.IGNORECASE)
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


def _depth(q) -> int:
    children = q.subqueries if isinstance(q, wq.CompoundQuery) else (
        (q.query,) if isinstance(q, wq.Not) else ())
    return 1 + max((_depth(c) for c in children), default=0)


# --- compiling ---------------------------------------------------------------------

@dataclass
class _Piece:
    """A conjunction: all `parts` match, no `excluded` matches, every `preds` holds."""
    parts: list[str] = field(default_factory=list)
    excluded: list[str] = field(default_factory=list)
    preds: list[tuple[str, tuple]] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)      # from tag: leaves of this conjunction
    not_tags: list[str] = field(default_factory=list)

    def is_fts(self) -> bool:
        return bool(self.parts) and not self.preds

    def fts(self) -> str:
        """This conjunction as one FTS5 expression (requires parts)."""
        expr = " AND ".join(self.parts)
        if self.excluded:
            if len(self.parts) > 1:
                expr = f"({expr})"
            expr += "".join(f" NOT {e}" for e in self.excluded)
        return expr

    def predicate(self) -> tuple[str, tuple]:
        """This conjunction as one SQL predicate over `p`."""
        sqls, params = [], []
        if self.parts:
            sqls.append(f"p.id IN ({FTS_SUBQUERY})")
            params.append(self.fts())
        elif self.excluded:
            sqls.append(f"p.id NOT IN ({FTS_SUBQUERY})")
            params.append(" OR ".join(self.excluded))
        for sql, ps in self.preds:
            sqls.append(sql)
            params.extend(ps)
        sql = " AND ".join(sqls) if sqls else "1"
        return (f"({sql})" if len(sqls) > 1 else sql), tuple(params)


def _group(expr: str) -> str:
    return expr if expr.startswith("(") and expr.endswith(")") and _balanced(expr[1:-1]) \
        else f"({expr})"


def _balanced(expr: str) -> bool:
    depth, in_quote = 0, False
    for ch in expr:
        if ch == '"':
            in_quote = not in_quote
        elif not in_quote:
            depth += {"(": 1, ")": -1}.get(ch, 0)
            if depth < 0:
                return False
    return depth == 0


def _atom(piece: _Piece) -> str:
    """The piece's FTS5 expression, safe to embed as an operand."""
    if len(piece.parts) == 1 and not piece.excluded:
        return piece.parts[0]
    return _group(piece.fts())


class _Compiler:
    def __init__(self, synonyms: bool, default_columns: str | None):
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
            return _Piece(parts=["(" + " OR ".join(_atom(p) for p in pieces) + ")"])
        preds = [p.predicate() for p in pieces]
        sql = "(" + " OR ".join(s for s, _ in preds) + ")"
        return _Piece(preds=[(sql, tuple(x for _, ps in preds for x in ps))])

    def not_(self, child, negated) -> _Piece | None:
        piece = self.node(child, not negated)
        if piece is None:
            return None
        if piece.is_fts():
            return _Piece(excluded=[_atom(piece)], not_tags=piece.tags)
        if not piece.parts and not piece.preds:  # NOT NOT x is x
            parts = piece.excluded if len(piece.excluded) == 1 else \
                ["(" + " OR ".join(piece.excluded) + ")"]
            return _Piece(parts=parts)
        sql, params = piece.predicate()
        return _Piece(preds=[(f"NOT {sql}", params)],
                      not_tags=piece.tags if len(piece.preds) == 1 and not piece.parts else [])

    # --- leaves

    def leaf(self, q, negated) -> _Piece | None:
        fieldname = q.fieldname or DEFAULT_FIELD
        if isinstance(q, wq.TermRange):
            if fieldname == "year":
                return self.year_range(q)
            # A range over text means nothing to FTS5: search its two ends as words.
            return self.and_([wq.Term(fieldname, end) for end in (q.start, q.end) if end], negated)
        raw = " ".join(q.words) if isinstance(q, wq.Phrase) else q.text
        if fieldname == "tag":
            return self.tag(raw, prefix=isinstance(q, (wq.Prefix, wq.Wildcard)))
        if fieldname == "year":
            piece = self.year(raw)
            return piece if piece else self.text(DEFAULT_FIELD, f"year {raw}", negated)
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

    def columns(self, fieldname: str) -> str | None:
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
        return _Piece(parts=["(" + " OR ".join(exprs) + ")"])

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

    def _record(self, term: str, expr: str, negated: bool) -> None:
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
            escaped = slug.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            sql = f"p.id IN ({TAG_SUBQUERY}t.slug LIKE ? ESCAPE '\\')"
            return _Piece(preds=[(sql, (escaped + "%",))])
        # Case-insensitive so tag:cs.lg finds cs.LG; the tags table is small.
        sql = f"p.id IN ({TAG_SUBQUERY}t.slug = ? COLLATE NOCASE)"
        return _Piece(preds=[(sql, (slug,))], tags=[slug])

    def year(self, raw) -> _Piece | None:
        m = _YEAR.fullmatch(raw.strip())
        if not m:
            return None
        single, start, end = m.group("single"), m.group("start"), m.group("end")
        if single:
            return _Piece(preds=[("p.year = ?", (int(single),))])
        return _year_bounds(start and int(start), end and int(end))

    def year_range(self, q) -> _Piece | None:
        start = int(q.start) if q.start and str(q.start).isdigit() else None
        end = int(q.end) if q.end and str(q.end).isdigit() else None
        return _year_bounds(None if start is None else start + q.startexcl,
                            None if end is None else end - q.endexcl)

    def id_(self, raw) -> _Piece | None:
        key = raw.strip()
        if not key:
            return None
        arxiv_id = re.sub(r"v\d+$", "", key)  # any version is the same paper
        return _Piece(preds=[("(p.arxiv_id = ? OR p.key = ?)", (arxiv_id, key))])


MIN_PREFIX_CHARS = 3
_YEAR = re.compile(r"(?P<single>\d{4})|(?P<start>\d{4})?\s*(?:\.\.|-|–)\s*(?P<end>\d{4})?")


def _year_bounds(start: int | None, end: int | None) -> _Piece | None:
    if start is not None and end is not None:
        start, end = min(start, end), max(start, end)  # year:2023..2020 means the same years
        return _Piece(preds=[("p.year BETWEEN ? AND ?", (start, end))])
    if start is not None:
        return _Piece(preds=[("p.year >= ?", (start,))])
    if end is not None:
        return _Piece(preds=[("p.year <= ?", (end,))])
    return None


def _plain_word(q) -> bool:
    return (type(q) is wq.Term and (q.fieldname or DEFAULT_FIELD) in (DEFAULT_FIELD, *COLUMNS)
            and q.text not in OPERATOR_WORDS)


def _is_dangling_field(raw: str) -> bool:
    return raw.endswith(":") and raw[:-1].lower() in (*COLUMNS, "tag", "year", "id")


# --- public ------------------------------------------------------------------------

@lru_cache(maxsize=1024)
def compile_query(text: str, *, synonyms: bool = True,
                  default_columns: str | None = None) -> CompiledQuery:
    """Compile a user query; never raises, and the MATCH it returns is always valid FTS5.

    `default_columns` restricts unfielded words to some FTS5 columns, e.g.
    "{title abstract}" for topic rules, where an author named Moe is not MoE.
    """
    text = _clean(text)
    compiler = _Compiler(synonyms, default_columns)
    try:
        tree = _PARSER.parse(_prepare(text), normalize=False)
        if _depth(tree) > MAX_NESTING:
            raise RecursionError("query nests too deeply")
        piece = compiler.node(tree)
    except Exception:  # noqa: BLE001 - any parser failure degrades to plain words
        compiler = _Compiler(synonyms, default_columns)
        words = [wq.Term(DEFAULT_FIELD, w) for w in text.split() if w not in OPERATOR_WORDS]
        piece = compiler.and_(words, False)
    return _finish(text, piece or _Piece(), compiler)


def _finish(text: str, piece: _Piece, compiler: _Compiler) -> CompiledQuery:
    match = piece.fts() if piece.parts else None
    preds = list(piece.preds)
    if not piece.parts and piece.excluded:
        preds.insert(0, (f"p.id NOT IN ({FTS_SUBQUERY})", (" OR ".join(piece.excluded),)))
    where = " AND ".join(s for s, _ in preds) or None
    return CompiledQuery(
        text=text, match=match, where=where,
        params=tuple(x for _, ps in preds for x in ps),
        terms=tuple(compiler.terms),
        expansions=tuple(dict.fromkeys(compiler.expansions)),
        tags=tuple(dict.fromkeys(piece.tags)),
        not_tags=tuple(dict.fromkeys(piece.not_tags)),
        is_empty=match is None and where is None,
        _parts=tuple(piece.parts), _excluded=tuple(piece.excluded),
        _leaves=tuple(dict.fromkeys(compiler.leaves)),
    )


def match_leaves(compiled: CompiledQuery) -> tuple[tuple[str, str], ...]:
    """Each positive word or phrase of the query (synonyms included) with its own
    FTS5 expression: what lets a caller say which parts of a query a paper matched."""
    return compiled._leaves


def loosen(compiled: CompiledQuery) -> CompiledQuery | None:
    """The ranked-OR fallback: any of the top-level words instead of all of them.

    Filters and exclusions still apply. None when there is nothing to loosen.
    """
    if len(compiled._parts) < 2:
        return None
    match = "(" + " OR ".join(compiled._parts) + ")"
    match += "".join(f" NOT {e}" for e in compiled._excluded)
    return CompiledQuery(
        text=compiled.text, match=match, where=compiled.where, params=compiled.params,
        terms=compiled.terms, expansions=compiled.expansions, tags=compiled.tags,
        not_tags=compiled.not_tags, is_empty=False,
        _parts=(match,), _excluded=(), _leaves=compiled._leaves,
    )
