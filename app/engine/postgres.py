"""PostgreSQL full-text search: every line of tsquery SQL in the app is here.

The index (migration 0003_postgres) is `papers.tsv`, a stored generated tsvector with
a GIN index: title weight A, abstract D, authors B, in the text search configuration
`papers` (Porter stems, no stop words, words split at every non-alphanumeric character
as FTS5's unicode61 splits them). See app/engine/base.py for what each method promises.

- Queries are tsquery text built here from lexemes: each token is stemmed in Python
  with the same Porter algorithm (snowballstemmer) and single-quoted, so no user text
  is ever tsquery syntax. Phrases are `<->`, prefixes `:*`, columns weight labels.
- Ranking is BM25 computed as FTS5 computes it (k1 1.2, b 0.75, column weights on term
  frequencies, IDF from the whole catalogue), not ts_rank: term frequencies come from
  the candidates' tsvector positions; document frequencies from `search_terms` (one
  word) or a count over the index (phrases, prefixes, column-restricted terms); the
  number of papers and their average length from `search_stats`.
- Highlights and snippets are made in Python from the stored text with the same
  tokenizing and stemming, so matches are marked exactly where the query's words are.
"""

import math
import re
import threading
import unicodedata
from collections import OrderedDict
from collections.abc import Iterable, Sequence

import orjson
import psycopg
import snowballstemmer

from app.engine.base import ELLIPSIS, MARK_CLOSE, MARK_OPEN
from app.plan import AllOf, AnyOf, Text, Words

K1, B = 1.2, 0.75                 # FTS5's bm25() constants
LABELS = {"title": "A", "abstract": "D", "authors": "B"}
COLUMN_OF = {label: column for column, label in LABELS.items()}
COLUMN_ORDER = ("title", "abstract", "authors")   # the order of the `weights` tuple
DOC_FREQ_CACHE = 4096
_WORDS = re.compile(r"[^\W_]+")   # alphanumeric runs: how the `papers` configuration splits text

_stemmer_lock = threading.Lock()
_stemmer = snowballstemmer.stemmer("porter")


# Letters unaccent folds that Unicode does not decompose (the rest: NFKD without marks).
_FOLD = str.maketrans({"ø": "o", "Ø": "O", "æ": "ae", "Æ": "AE", "œ": "oe", "Œ": "OE", "ß": "ss",
                       "ł": "l", "Ł": "L", "đ": "d", "Đ": "D", "ð": "d", "Ð": "D", "þ": "th", "Þ": "TH",
                       "ı": "i", "ħ": "h", "Ħ": "H"})


def fold(token: str) -> str:
    """The token without diacritics, as the `unaccent` dictionary leaves it."""
    if token.isascii():
        return token
    decomposed = unicodedata.normalize("NFKD", token.translate(_FOLD))
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def lexeme(token: str) -> str:
    """The index's form of one lower-case token (what to_tsvector('papers', token) stores)."""
    token = fold(token)
    with _stemmer_lock:  # snowballstemmer objects keep state between calls
        stemmed = _stemmer.stemWord(token)
    return stemmed or token  # as PostgreSQL's snowball dictionary: a word stemmed to nothing stays itself


def _literal(lex: str) -> str:
    return "'" + lex.replace("\\", "\\\\").replace("'", "''") + "'"


def _leaves(text: Text, negated: bool = False) -> Iterable[tuple[Words, bool]]:
    if isinstance(text, Words):
        yield text, negated
    elif isinstance(text, AnyOf):
        for part in text.parts:
            yield from _leaves(part, negated)
    else:
        for part in text.parts:
            yield from _leaves(part, negated)
        for part in text.excluded:
            yield from _leaves(part, not negated)


class _Phrase:
    """One positive Words node, ready to be found in a paper's positions or text."""

    def __init__(self, words: Words):
        self.lexemes = tuple(lexeme(t) for t in words.tokens)
        self.prefix = words.prefix
        self.labels = frozenset(LABELS[c] for c in words.columns) if words.columns else frozenset("ABD")
        self.columns = frozenset(words.columns) if words.columns else frozenset(COLUMN_ORDER)

    def matches_token(self, i: int, lex: str) -> bool:
        want = self.lexemes[i]
        return lex.startswith(want) if self.prefix and i == len(self.lexemes) - 1 else lex == want


class PostgresEngine:
    """The SearchEngine of app/engine/base.py on PostgreSQL."""

    name = "postgresql"

    def __init__(self):
        self._doc_freqs: OrderedDict = OrderedDict()   # (catalogue size, tsquery) -> papers
        self._lock = threading.Lock()

    # --- reading ----------------------------------------------------------------------

    def render(self, text: Text) -> str:
        if isinstance(text, Words):
            labels = "".join(sorted(LABELS[c] for c in text.columns))
            last = len(text.tokens) - 1
            return " <-> ".join(
                _literal(lexeme(t)) + ((":*" + labels) if text.prefix and i == last else (":" + labels if labels else ""))
                for i, t in enumerate(text.tokens))
        if isinstance(text, AnyOf):
            return "(" + " | ".join(self._operand(p) for p in text.parts) + ")"
        expr = " & ".join(self._operand(p) for p in text.parts)
        if text.excluded:
            expr += "".join(f" & !{self._operand(e)}" for e in text.excluded)
        return expr

    def _operand(self, text: Text) -> str:
        if isinstance(text, Words) and len(text.tokens) == 1:
            return self.render(text)
        if isinstance(text, AnyOf):
            return self.render(text)
        return f"({self.render(text)})"

    def match_ids(self, conn, text: Text, within: Sequence[int] | None = None) -> list[int]:
        sql = "SELECT string_agg(id::text, ',') FROM papers WHERE tsv @@ %s::tsquery"
        args: list = [self.render(text)]
        if within is not None:
            if not within:
                return []
            sql += " AND id BETWEEN %s AND %s AND id = ANY(%s)"
            args += [within[0], within[-1], list(within)]
        found = _run(conn, sql, args).fetchone()[0]
        ids = orjson.loads("[" + found + "]") if found else []
        ids.sort()  # heap order is nearly id order: a cheap sort
        return ids

    def rank(self, conn, text: Text, weights: tuple[float, float, float],
             candidates: Sequence[int] | None, lowest: int) -> list[tuple[int, float]]:
        phrases = [_Phrase(words) for words, negated in _leaves(text) if not negated]
        if not phrases:
            return []
        exact = sorted({lx for p in phrases for i, lx in enumerate(p.lexemes)
                        if not (p.prefix and i == len(p.lexemes) - 1)})
        prefixes = sorted({p.lexemes[-1].replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
                           for p in phrases if p.prefix})
        if candidates is not None:
            if not candidates:
                return []
            # Candidates come from the match set: no second test of the query (it costs as
            # much as reading the positions); papers without the words score nothing.
            where, args = "p.id = ANY(%s)", [list(candidates)]
        else:
            where, args = "p.tsv @@ %s::tsquery AND p.id >= %s", [self.render(text), lowest]
        rows = _run(conn, f"""
            SELECT p.id, p.doc_len, u.lexeme, u.positions, u.weights
            FROM papers p CROSS JOIN LATERAL unnest(p.tsv) u
            WHERE {where} AND (u.lexeme = ANY(%s) OR u.lexeme LIKE ANY(%s))""",
                    [*args, exact, prefixes]).fetchall()
        docs: dict[int, tuple[int, dict[str, list[tuple[int, str]]]]] = {}
        for paper_id, length, lex, positions, labels in rows:
            entry = docs.setdefault(paper_id, (length or 0, {}))
            entry[1][lex] = list(zip(positions, labels))
        papers, words = _run(conn, "SELECT docs, words FROM search_stats WHERE id = 1").fetchone()
        papers = max(int(papers), 1)
        average = max(float(words) / papers, 1.0)
        idf = [self._idf(conn, p, papers) for p in phrases]
        weight_of = {LABELS[c]: w for c, w in zip(COLUMN_ORDER, weights)}
        scored = []
        for paper_id, (length, terms) in docs.items():
            norm = K1 * (1 - B + B * length / average)
            score = 0.0
            for phrase, phrase_idf in zip(phrases, idf):
                freq = sum(weight_of[label] for label in _hits(phrase, terms))
                if freq:
                    score += phrase_idf * freq * (K1 + 1) / (freq + norm)
            scored.append((paper_id, -score))
        return scored

    def _idf(self, conn, phrase: _Phrase, papers: int) -> float:
        hits = self._document_frequency(conn, phrase, papers)
        value = math.log((papers - hits + 0.5) / (hits + 0.5))
        return value if value > 0 else 1e-6  # as FTS5: a word in most papers still counts a little

    def _document_frequency(self, conn, phrase: _Phrase, papers: int) -> int:
        if len(phrase.lexemes) == 1 and not phrase.prefix and phrase.labels == frozenset("ABD"):
            row = _run(conn, "SELECT docs FROM search_terms WHERE lexeme = %s", [phrase.lexemes[0]]).fetchone()
            return max(int(row[0]), 0) if row else 0
        labels = "" if phrase.labels == frozenset("ABD") else "".join(sorted(phrase.labels))
        last = len(phrase.lexemes) - 1
        query = " <-> ".join(_literal(lx) + ((":*" + labels) if phrase.prefix and i == last
                                            else (":" + labels if labels else ""))
                             for i, lx in enumerate(phrase.lexemes))
        key = (papers, query)  # the catalogue's size stands for its version here
        with self._lock:
            if key in self._doc_freqs:
                self._doc_freqs.move_to_end(key)
                return self._doc_freqs[key]
        count = _run(conn, "SELECT count(*) FROM papers WHERE tsv @@ %s::tsquery", [query]).fetchone()[0]
        with self._lock:
            self._doc_freqs[key] = count
            while len(self._doc_freqs) > DOC_FREQ_CACHE:
                self._doc_freqs.popitem(last=False)
        return count

    def highlight(self, conn, text: Text, ids: Sequence[int], dense: bool,
                  snippet_tokens: int) -> dict[int, tuple[str | None, str | None]]:
        if not ids:
            return {}
        phrases = [_Phrase(words) for words, negated in _leaves(text) if not negated]
        rows = _run(conn, "SELECT id, title, abstract FROM papers WHERE id = ANY(%s) AND tsv @@ %s::tsquery",
                    [list(ids), self.render(text)]).fetchall()
        out = {}
        for paper_id, title, abstract in rows:
            title_tokens = _tokens(title)
            title_marked = _marked(title, title_tokens, _matched(phrases, title_tokens, "title"),
                                   0, len(title_tokens))
            out[paper_id] = (title_marked, _snippet(abstract, phrases, snippet_tokens))
        return out

    def refuses(self, exc: BaseException) -> bool:
        return isinstance(exc, psycopg.errors.SyntaxError) and "tsquery" in str(exc).lower()

    # --- vocabulary -------------------------------------------------------------------

    def document_frequencies(self, conn, terms: Iterable[str]) -> dict[str, int]:
        terms = sorted(set(terms))
        if not terms:
            return {}
        return dict(_run(conn, "SELECT lexeme, docs FROM search_terms WHERE lexeme = ANY(%s) AND docs > 0",
                         [terms]).fetchall())

    def written_as_typed(self, conn, word: str, sample: int) -> bool:
        row = _run(conn, """
            SELECT 1 FROM (SELECT title, abstract, authors FROM papers WHERE tsv @@ %s::tsquery LIMIT %s) p
            WHERE strpos(lower(title), %s) > 0 OR strpos(lower(abstract), %s) > 0
               OR strpos(lower(authors), %s) > 0 LIMIT 1""",
                   [self.render(Words((word,))), sample, word, word, word]).fetchone()
        return row is not None

    # --- writing ----------------------------------------------------------------------

    def suspend_sync(self, conn) -> bool:
        # For this transaction only: the row triggers leave the statistics to index/unindex.
        _run(conn, "SELECT set_config('papers.bulk_index', 'on', true)")
        return True

    def resume_sync(self, conn, token: object) -> None:
        _run(conn, "SELECT set_config('papers.bulk_index', 'off', true)")

    def index(self, conn, ids: Sequence[int]) -> None:
        ids = sorted(ids)
        if not ids:
            return
        # The tsvector itself is a generated column: only the statistics need the new papers.
        _run(conn, "SELECT search_count(array_agg(tsv), array_agg(doc_len), 1) FROM papers WHERE id = ANY(%s)",
             [ids])

    def unindex(self, conn, paper_id: int, title: str, abstract: str, authors: str) -> None:
        _run(conn, "SELECT search_count(ARRAY[papers_tsv(%s, %s, %s)], ARRAY[papers_doc_len(%s, %s, %s)], -1)",
             [title, abstract, authors, title, abstract, authors])

    def set_loading(self, conn, loading: bool) -> None:
        """Nothing to tune: the GIN index takes bulk inserts through its pending list."""

    # --- maintenance --------------------------------------------------------------------

    def optimize(self, conn) -> None:
        _run(conn, "DELETE FROM search_terms WHERE docs <= 0")
        _run(conn, "SELECT gin_clean_pending_list('ix_papers_tsv')")
        _run(conn, "ANALYZE papers")
        _run(conn, "ANALYZE search_terms")

    def rebuild(self, conn) -> None:
        _run(conn, "DELETE FROM search_terms")
        _run(conn, "INSERT INTO search_terms (lexeme, docs) SELECT word, ndoc FROM ts_stat('SELECT tsv FROM papers')")
        _run(conn, "UPDATE search_stats SET docs = s.n, words = s.w FROM"
                   " (SELECT count(*) AS n, coalesce(sum(doc_len), 0) AS w FROM papers) s WHERE id = 1")

    def check(self, conn) -> list[str]:
        problems = []
        stored = _run(conn, "SELECT docs, words FROM search_stats WHERE id = 1").fetchone()
        actual = _run(conn, "SELECT count(*), coalesce(sum(doc_len), 0) FROM papers").fetchone()
        if stored is None or tuple(map(int, stored)) != tuple(map(int, actual)):
            problems.append(f"full-text statistics: {stored} papers and words recorded, {actual} present")
        wrong = _run(conn, """
            SELECT count(*) FROM (SELECT word, ndoc FROM ts_stat('SELECT tsv FROM papers')) s
            FULL JOIN (SELECT lexeme, docs FROM search_terms WHERE docs <> 0) t ON t.lexeme = s.word
            WHERE s.ndoc IS DISTINCT FROM t.docs""").fetchone()[0]
        if wrong:
            problems.append(f"full-text statistics: {wrong} terms with a wrong document count")
        return problems


def _run(conn, sql: str, args: Sequence | None = None):
    """A statement in psycopg's own dialect on the app's connection (app/pg.py)."""
    conn._check_deadline()
    return conn.raw.execute(sql, args, prepare=False)


def _hits(phrase: _Phrase, terms: dict[str, list[tuple[int, str]]]) -> Iterable[str]:
    """The column label of each occurrence of the phrase in one paper's positions."""
    first = [(pos, label) for lex, occ in terms.items() if phrase.matches_token(0, lex)
             for pos, label in occ if label in phrase.labels]
    if len(phrase.lexemes) == 1:
        return [label for _pos, label in first]
    at: dict[int, set[tuple[int, str]]] = {}
    for i in range(1, len(phrase.lexemes)):
        at[i] = {(pos, label) for lex, occ in terms.items() if phrase.matches_token(i, lex) for pos, label in occ}
    return [label for pos, label in first
            if all((pos + i, label) in at[i] for i in range(1, len(phrase.lexemes)))]


def _tokens(text: str) -> list[tuple[int, int, str]]:
    """(start, end, lexeme) of each word of a text, as the index splits and stems it."""
    return [(m.start(), m.end(), lexeme(m.group(0).lower())) for m in _WORDS.finditer(text or "")]


def _matched(phrases: list[_Phrase], tokens: list[tuple[int, int, str]], column: str) -> list[tuple[int, int]]:
    """(first, last) token of each occurrence of a phrase searched in this column, overlapping
    occurrences merged: each is marked as one span, as FTS5's highlight() marks them."""
    spans = []
    for phrase in phrases:
        if column not in phrase.columns:
            continue
        n = len(phrase.lexemes)
        for start in range(len(tokens) - n + 1):
            if all(phrase.matches_token(i, tokens[start + i][2]) for i in range(n)):
                spans.append((start, start + n - 1))
    merged: list[tuple[int, int]] = []
    for first, last in sorted(spans):
        if merged and first <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(last, merged[-1][1]))
        else:
            merged.append((first, last))
    return merged


def _marked(text: str, tokens, spans: list[tuple[int, int]], first: int, last: int) -> str:
    """text[token first .. token last-1] with each span between MARK_OPEN and MARK_CLOSE."""
    if not tokens:
        return text
    begin = 0 if first == 0 else tokens[first][0]
    end = len(text) if last >= len(tokens) else tokens[last - 1][1]
    out, at = [], begin
    for span_first, span_last in spans:
        if span_last < first or span_first >= last:
            continue
        start, stop = tokens[max(span_first, first)][0], tokens[min(span_last, last - 1)][1]
        out += [text[at:start], MARK_OPEN, text[start:stop], MARK_CLOSE]
        at = stop
    out.append(text[at:end])
    return "".join(out)


def _snippet(abstract: str, phrases: list[_Phrase], size: int) -> str:
    """About `size` words of the abstract around its densest matches, cut with ELLIPSIS."""
    tokens = _tokens(abstract)
    spans = _matched(phrases, tokens, "abstract")
    if len(tokens) <= size:
        return _marked(abstract, tokens, spans, 0, len(tokens))
    best, best_score = 0, (-1, 0)
    hits = sorted(i for first, last in spans for i in range(first, last + 1))
    for hit in hits:
        start = max(0, min(hit - size // 4, len(tokens) - size))
        inside = [i for i in hits if start <= i < start + size]
        distinct = len({tokens[i][2] for i in inside})
        score = (distinct, len(inside))
        if score > best_score:
            best, best_score = start, score
    end = best + size
    text = _marked(abstract, tokens, spans, best, end)
    if best > 0:
        text = ELLIPSIS + text.lstrip()
    if end < len(tokens):
        text = text.rstrip() + ELLIPSIS
    return text
