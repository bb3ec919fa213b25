"""PostgreSQL full-text search: every line of tsquery SQL in the app is here.

The index (migration 0004_postgres) is `papers.tsv`, a stored generated tsvector with
a GIN index: title weight A, abstract D, authors B, in the text search configuration
`papers` (Porter stems, no stop words, diacritics folded, words split at every
non-alphanumeric character as FTS5's unicode61 splits them). See app/engine/base.py
for what each method promises. Known differences in the terms (Porter variants): FTS5's
leaves words of one or two letters as they are, PostgreSQL's stems those ending in s ("is"
is "i", "us" is "u"); FTS5 follows the later rule that makes "methodologies"
"methodolog", PostgreSQL's snowball `porter` makes it "methodologi". A handful of terms,
nearly all stopwords; on the seed papers every other term has the same document count.

- Queries are tsquery text built here from lexemes: each token is folded and stemmed in
  Python with the same Porter algorithm (snowballstemmer) and single-quoted, so no user
  text is ever tsquery syntax. Phrases are `<->` within one column's label (never across
  two columns, as in FTS5), prefixes `:*`, columns weight labels.
- Ranking is BM25 computed as FTS5 computes it (k1 1.2, b 0.75, column weights on term
  frequencies, IDF from the whole catalogue), not ts_rank: term frequencies come from
  the matching papers' tsvectors (a single word's occurrences per column counted by
  `ts_rank_cd`, used only as a counter, two calls a word; phrases and prefixes from the
  positions; each tsvector is kept inline in its row, migration 0006);
  document frequencies from `search_terms`
  (one word) or a count over the index (phrases, prefixes, column-restricted terms);
  the number of papers and their average length from `search_stats`. Both tables are
  kept by the writers, in their transactions. A tree's score is the sum of its leaves'
  contributions, added as app/search/ranking.py adds them. The arithmetic runs over numpy
  arrays of the fetched columns, element by element in the order the formula is written
  (and a weighted frequency as repeated additions), so every score has the same bits as
  when it was computed one paper at a time.
- Highlights and snippets are made in Python from the page's own text with the same
  splitting and stemming, so matches are marked exactly where the query's words are.
"""

import math
import re
import threading
import unicodedata
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache

import numpy as np
import orjson
import psycopg
import snowballstemmer

from app.engine.base import ELLIPSIS, MARK_CLOSE, MARK_OPEN
from app.engine.fts5 import Fts5Engine
from app.plan import AnyOf, Text, Words

K1, B = 1.2, 0.75                 # FTS5's bm25() constants
LABELS = {"title": "A", "abstract": "D", "authors": "B"}
COLUMN_ORDER = ("title", "abstract", "authors")   # the order of the `weights` tuple
DOC_FREQ_CACHE = 4096
_WORDS = re.compile(r"[^\W_]+")   # alphanumeric runs: how the `papers` configuration splits text
_LAST = "\U0010ffff"              # above every character: the end of a prefix's range

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


@lru_cache(maxsize=1 << 16)
def lexeme(token: str) -> str:
    """The index's form of one lower-case token (what to_tsvector('papers', token) stores).
    Kept per token: a page's highlights stem every word of its titles and abstracts, most of
    them seen before (stemming was nine tenths of their time)."""
    token = fold(token)
    with _stemmer_lock:  # snowballstemmer objects keep state between calls
        stemmed = _stemmer.stemWord(token)
    return stemmed or token  # as PostgreSQL's snowball dictionary: a word stemmed to nothing stays itself


def _literal(lex: str) -> str:
    return "'" + lex.replace("\\", "\\\\").replace("'", "''") + "'"


def _tsquery(lexemes: Sequence[str], labels: str, prefix: bool) -> str:
    """One phrase as tsquery text: quoted lexemes joined by <->, weight labels, a last prefix.

    The tsvector numbers the words of title, abstract and authors in one run, so a bare
    `a <-> b` also matches a title's last word followed by the abstract's first. FTS5
    never matches a phrase across columns: a phrase of several words is one alternative
    per column, each word carrying that column's label (PostgreSQL checks the label of
    every position a phrase is found at)."""
    if len(lexemes) > 1:
        each = sorted(labels) if labels else sorted(LABELS.values())
        if len(each) > 1:
            return "(" + " | ".join(_tsquery(lexemes, label, prefix) for label in each) + ")"
    last = len(lexemes) - 1
    return " <-> ".join(
        _literal(lx) + ((":*" + labels) if prefix and i == last else (":" + labels if labels else ""))
        for i, lx in enumerate(lexemes))


def _leaves(text: Text, negated: bool = False) -> Iterable[tuple[Words, bool]]:
    """Every leaf in written order, and whether it sits under a NOT."""
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
    """One Words node, ready to be found in a paper's positions or text."""

    def __init__(self, words: Words):
        self.lexemes = tuple(lexeme(t) for t in words.tokens)
        self.prefix = words.prefix
        self.labels = frozenset(LABELS[c] for c in words.columns) if words.columns else frozenset("ABD")
        self.columns = frozenset(words.columns) if words.columns else frozenset(COLUMN_ORDER)
        self.query = _tsquery(self.lexemes, "" if self.labels == frozenset("ABD") else "".join(sorted(self.labels)),
                              self.prefix)

    def matches_token(self, i: int, lex: str) -> bool:
        want = self.lexemes[i]
        return lex.startswith(want) if self.prefix and i == len(self.lexemes) - 1 else lex == want


class PostgresEngine:
    """The SearchEngine of app/engine/base.py on PostgreSQL."""

    name = "postgresql"
    # At start, in a background thread: the frequent terms are read together, a batch of them
    # per pass over every tsvector (phrase_scores_many), where one at a time they took many
    # minutes (0.4-1.5 s a frequent term at 165k, see bench/README.md).
    warm_terms = True

    def __init__(self):
        self._doc_freqs: OrderedDict = OrderedDict()   # (database, catalogue version, tsquery) -> papers
        self._lock = threading.Lock()

    # --- reading ----------------------------------------------------------------------

    def render(self, text: Text) -> str:
        if isinstance(text, Words):
            labels = "".join(sorted(LABELS[c] for c in text.columns))
            return _tsquery([lexeme(t) for t in text.tokens], labels, text.prefix)
        if isinstance(text, AnyOf):
            return "(" + " | ".join(self._operand(p) for p in text.parts) + ")"
        expr = " & ".join(self._operand(p) for p in text.parts)
        if text.excluded:
            expr += "".join(f" & !{self._operand(e)}" for e in text.excluded)
        return expr

    def _operand(self, text: Text) -> str:
        if isinstance(text, Words) and len(text.tokens) == 1 or isinstance(text, AnyOf):
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
        if candidates is not None:
            if not candidates:
                return []
            where, args = "p.id = ANY(%s) AND p.tsv @@ %s::tsquery", [list(candidates), self.render(text)]
        else:
            where, args = "p.tsv @@ %s::tsquery AND p.id >= %s", [self.render(text), lowest]
        # Excluded leaves too: whether a paper matches a branch with a NOT decides whether
        # that branch's leaves count (their own contributions never do).
        found, matched = self._contributions(conn, [words for words, _negated in _leaves(text)],
                                             weights, where, args)
        # Every leaf's contribution and presence over the selected papers, then the tree
        # evaluated over all of them at once (numpy, element by element: the same operations
        # in the same order as one paper at a time).
        present: dict[Words, np.ndarray] = {}
        values: dict[Words, np.ndarray] = {}
        for leaf, (ids, scores) in found.items():
            at = np.searchsorted(matched, ids)
            mask = np.zeros(len(matched), dtype=bool)
            mask[at] = True
            full = np.zeros(len(matched), dtype=np.float64)
            full[at] = scores
            present[leaf], values[leaf] = mask, full
        # The positions decide, as in phrase_scores (tsvector caps them at 16383).
        keep = _matches_all(text, present)
        total = np.zeros(len(matched), dtype=np.float64)
        # Added in written order where every node above matched, as ranking.py adds them.
        for leaf, live in _live_masks(text, keep, present):
            total = np.where(live, total + values[leaf], total)
        return list(zip(matched[keep].tolist(), total[keep].tolist()))

    def phrase_scores(self, conn, words: Words, weights: tuple[float, float, float]
                      ) -> tuple[list[int], list[float]]:
        found, _matched = self._contributions(conn, [words], weights, "p.tsv @@ %s::tsquery",
                                              [self.render(words)])
        ids, scores = found[words]  # not `matched`: a phrase across two columns is no match for FTS5
        return ids.tolist(), scores.tolist()

    def _contributions(self, conn, leaves: Sequence[Words], weights: tuple[float, float, float],
                       where: str, args: list) -> tuple[dict[Words, tuple[np.ndarray, np.ndarray]], np.ndarray]:
        """Each leaf's BM25 contributions (negative: lower is better) in the papers `where`
        selects that contain it, as (ids, contributions) in id order, and the ids `where`
        selects (sorted)."""
        phrases = {leaf: _Phrase(leaf) for leaf in leaves}
        # A single word (no prefix) needs only how often it occurs under each label: counted by
        # ts_rank_cd, which finds the word in the tsvector by binary search, where unnesting the
        # whole tsvector costs 5-10x more per paper. With one query word and no normalisation it
        # returns the sum of the weights of the word's positions (each 1 / (1 / weight)), so
        # weights 1 for title and 2^-9 for abstract give title + abstract / 512 exactly (a
        # tsvector keeps at most 256 positions of a word: 18 bits, within the 24 of its real
        # result), and a second call counts authors: two reads of the tsvector, not three.
        # Phrases and prefixes read positions.
        singles = sorted({p.lexemes[0] for p in phrases.values() if _single(p)})
        positional = [p for p in phrases.values() if not _single(p)]
        exact = sorted({lx for p in positional for i, lx in enumerate(p.lexemes)
                        if not (p.prefix and i == len(p.lexemes) - 1)})
        prefixes = sorted({p.lexemes[-1].replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
                           for p in positional if p.prefix})
        counted = ", ts_rank_cd(%s::real[], p.tsv, %s::tsquery, 0)" * (len(singles) * len(_CALLS))
        counted_args = [arg for lex in singles for weights_of in _CALLS for arg in (weights_of, _literal(lex))]
        if positional:
            select = ", u.lexeme, u.positions, u.weights"
            join = """LEFT JOIN LATERAL (SELECT * FROM unnest(p.tsv) t
                WHERE t.lexeme = ANY(%s) OR t.lexeme LIKE ANY(%s)) u ON true"""
            join_args = [exact, prefixes]
        else:
            select, join, join_args = "", "", []
        rows = _run(conn, f"SELECT p.id, p.doc_len{counted}{select} FROM papers p {join} WHERE {where}",
                    [*counted_args, *join_args, *args]).fetchall()
        width = len(singles) * len(_CALLS)
        terms_of: list[dict[str, list[tuple[int, str]]]] = []
        if positional:
            # One row per paper and lexeme found (one row with NULLs when none is): the
            # rows of a paper are adjacent (the lateral join's), its counts repeated on each.
            firsts = []
            last = None
            for n, row in enumerate(rows):
                if row[0] != last:
                    last = row[0]
                    firsts.append(n)
                    terms_of.append({})
                lex = row[2 + width]
                if lex is not None:
                    terms_of[-1][lex] = list(zip(row[3 + width], row[4 + width]))
            rows = [rows[n] for n in firsts]
        count = len(rows)
        ids = np.fromiter((row[0] for row in rows), dtype=np.int64, count=count)
        lengths = np.fromiter((row[1] or 0 for row in rows), dtype=np.int64, count=count)
        counts = _decoded(np.array([row[2:2 + width] for row in rows], dtype=np.float64).reshape(count, width))
        order = np.argsort(ids, kind="stable")  # heap order is nearly id order
        ids, lengths, counts = ids[order], lengths[order], counts[order]
        terms_of = [terms_of[i] for i in order.tolist()] if positional else terms_of
        papers, average, version = _statistics(conn)
        weight_of = {LABELS[c]: w for c, w in zip(COLUMN_ORDER, weights)}
        norm = _norm(lengths, average)
        found: dict[Words, tuple[np.ndarray, np.ndarray]] = {}
        column = {lex: i * len(_COUNTED) for i, lex in enumerate(singles)}
        for leaf, phrase in phrases.items():
            idf = self._idf(conn, phrase, papers, version)
            if _single(phrase):
                first = column[phrase.lexemes[0]]
                freq = _frequency(counts[:, first:first + len(_COUNTED)], phrase, weight_of)
            else:
                freq = np.fromiter((_weighted(phrase, terms, weight_of) for terms in terms_of),
                                   dtype=np.float64, count=count)
            found[leaf] = _bm25(ids, freq, idf, norm)
        return found, ids

    def phrase_scores_many(self, conn, phrases: Sequence[Words], weights: tuple[float, float, float]
                           ) -> list[tuple[Sequence[int], Sequence[float]]]:
        """Single words read together: a batch of them in one pass over every paper's tsvector
        (their counts per label aggregated by the server, a range of ids per statement), where
        `phrase_scores` reads the tsvectors of each word's papers apart (0.4-1.5 s a frequent
        word at 165k: the warm-up's ~1,150 words took many minutes). The same arithmetic as
        `phrase_scores`, so the same bits. Phrases and prefixes are scored one by one."""
        parsed = [_Phrase(words) for words in phrases]
        lexemes = sorted({p.lexemes[0] for p in parsed if _single(p)})
        counted = {}
        for batch in _batches(conn, lexemes):
            counted.update(self._counted_together(conn, batch))
        papers, average, version = _statistics(conn)
        weight_of = {LABELS[c]: w for c, w in zip(COLUMN_ORDER, weights)}
        out = []
        for words, phrase in zip(phrases, parsed):
            if not _single(phrase):
                out.append(self.phrase_scores(conn, words, weights))
                continue
            ids, lengths, counts = counted.get(phrase.lexemes[0], _NONE_COUNTED)
            freq = _frequency(counts, phrase, weight_of)
            out.append(_bm25(ids, freq, self._idf(conn, phrase, papers, version), _norm(lengths, average)))
        return out

    @staticmethod
    def _counted_together(conn, lexemes: Sequence[str]) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """lexeme -> (ids ascending, doc_len, counts per label in _COUNTED order) of the papers
        containing it, read TOGETHER_PAPERS ids at a time: each statement unnests that many
        tsvectors at most, within the readers' statement timeout whatever the catalogue's size."""
        top = _run(conn, "SELECT max(id) FROM papers").fetchone()[0] or 0
        # Each paper's count of a word under each label, packed in one integer (at most 256
        # positions a word: 9 bits each), and every list as text: one string per column to parse.
        packed = " + ".join(f"{_PACK ** i} * cardinality(array_positions(u.weights, '{label}'))"
                            for i, label in enumerate(_COUNTED))
        parts: dict[str, list[tuple[np.ndarray, ...]]] = {}
        for low in range(0, top + 1, TOGETHER_PAPERS):
            rows = _run(conn, f"""SELECT u.lexeme, string_agg(p.id::text, ','),
                    string_agg(coalesce(p.doc_len, 0)::text, ','), string_agg(({packed})::text, ',')
                FROM papers p CROSS JOIN LATERAL unnest(p.tsv) u
                WHERE p.id >= %s AND p.id < %s AND u.lexeme = ANY(%s) GROUP BY u.lexeme""",
                        [low, low + TOGETHER_PAPERS, list(lexemes)]).fetchall()
            for lex, *texts in rows:
                parts.setdefault(lex, []).append(tuple(np.array(orjson.loads("[" + text + "]"), dtype=np.int32)
                                                       for text in texts))
        found = {}
        for lex, pieces in parts.items():
            ids, lengths, packs = (np.concatenate(column) for column in zip(*pieces))
            order = np.argsort(ids, kind="stable")
            counts = np.stack([packs[order] // _PACK ** i % _PACK for i in range(len(_COUNTED))], axis=1)
            found[lex] = (ids[order].astype(np.int64), lengths[order].astype(np.int64), counts.astype(np.int64))
        return found

    def _idf(self, conn, phrase: _Phrase, papers: int, version: int) -> float:
        hits = self._document_frequency(conn, phrase, version)
        value = math.log((papers - hits + 0.5) / (hits + 0.5))
        return value if value > 0 else 1e-6  # as FTS5: a word in most papers still counts a little

    def _document_frequency(self, conn, phrase: _Phrase, version: int) -> int:
        if len(phrase.lexemes) == 1 and not phrase.prefix and phrase.labels == frozenset("ABD"):
            row = _run(conn, "SELECT docs FROM search_terms WHERE lexeme = %s", [phrase.lexemes[0]]).fetchone()
            return max(int(row[0]), 0) if row else 0
        info = conn.raw.info  # versions count per database: two databases can share one
        key = (info.host, info.port, info.dbname, version, phrase.query)
        with self._lock:
            if key in self._doc_freqs:
                self._doc_freqs.move_to_end(key)
                return self._doc_freqs[key]
        count = _run(conn, "SELECT count(*) FROM papers WHERE tsv @@ %s::tsquery", [phrase.query]).fetchone()[0]
        with self._lock:
            self._doc_freqs[key] = count
            while len(self._doc_freqs) > DOC_FREQ_CACHE:
                self._doc_freqs.popitem(last=False)
        return count

    def highlight(self, text: Text, rows: Sequence[tuple[int, str, str, str]],
                  snippet_tokens: int) -> dict[int, tuple[str | None, str | None]]:
        # The page's own text, split and stemmed as the index does: the cost follows the page.
        phrases = [_Phrase(words) for words, negated in _leaves(text) if not negated]
        out = {}
        for paper_id, title, abstract, authors in rows:
            tokens = {"title": _tokens(title), "abstract": _tokens(abstract), "authors": _tokens(authors)}
            if not _text_matches(text, tokens):
                continue
            title_tokens = tokens["title"]
            title_marked = _marked(title or "", title_tokens, _matched(phrases, title_tokens, "title"),
                                   0, len(title_tokens))
            out[paper_id] = (title_marked, _snippet(abstract or "", tokens["abstract"], phrases, snippet_tokens))
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

    def expansion(self, conn, prefix: str) -> tuple[int, int]:
        # A range over the statistics' primary key (C collation): only the terms in it are read.
        start = lexeme(prefix)
        row = _run(conn, "SELECT count(*), coalesce(sum(docs), 0) FROM search_terms"
                         " WHERE lexeme >= %s AND lexeme < %s AND docs > 0", [start, start + _LAST]).fetchone()
        return int(row[0]), int(row[1])

    def analyze(self, text: str) -> list[str]:
        return [lex for _start, _end, lex in _tokens(text)]

    def vocabulary(self, conn, min_docs: int) -> dict[str, tuple[int, int]]:
        return {term: (docs, count) for term, docs, count in _run(
            conn, "SELECT lexeme, docs, occurrences FROM search_terms WHERE docs >= %s", [max(min_docs, 1)])}

    # The same walk over the postings of each term as on SQLite: only `match_ids` differs.
    similar = Fts5Engine.similar

    def written_as_typed(self, conn, word: str, sample: int) -> bool:
        row = _run(conn, """
            SELECT 1 FROM (SELECT title, abstract, authors FROM papers WHERE tsv @@ %s::tsquery LIMIT %s) p
            WHERE strpos(lower(title), %s) > 0 OR strpos(lower(abstract), %s) > 0
               OR strpos(lower(authors), %s) > 0 LIMIT 1""",
                   [self.render(Words((word,))), sample, word, word, word]).fetchone()
        return row is not None

    # --- writing ----------------------------------------------------------------------

    def suspend_sync(self, conn) -> bool:
        # For this transaction only: the triggers leave the statistics to index/unindex.
        conn.unindexed.clear()  # anything left from a batch that rolled back is not this one's
        _run(conn, "SELECT set_config('papers.bulk_index', 'on', true)")
        return True

    def resume_sync(self, conn, token: object) -> None:
        self._uncount(conn)
        _run(conn, "SELECT set_config('papers.bulk_index', 'off', true)")

    def index(self, conn, ids: Sequence[int]) -> None:
        self._uncount(conn)
        ids = sorted(ids)
        if not ids:
            return
        # The tsvector itself is a generated column: only the statistics need the new papers.
        _run(conn, "SELECT search_count(array_agg(tsv), array_agg(doc_len), 1) FROM papers WHERE id = ANY(%s)",
             [ids])

    def unindex(self, conn, paper_id: int, title: str, abstract: str, authors: str) -> None:
        # Noted, and taken out of the statistics with the batch's others by `index` (or
        # `resume_sync`), in the same transaction: one statement updates each term's row
        # once, where one statement per paper updated the common terms' rows once per
        # paper, each update walking the row's earlier versions in the transaction.
        conn.unindexed.append((title, abstract, authors))

    @staticmethod
    def _uncount(conn) -> None:
        """Take the papers `unindex` noted out of the term statistics, in one statement."""
        if not conn.unindexed:
            return
        titles, abstracts, authors = (list(column) for column in zip(*conn.unindexed))
        conn.unindexed.clear()
        _run(conn, """
            SELECT search_count(array_agg(papers_tsv(t, a, au)), array_agg(papers_doc_len(t, a, au)), -1)
            FROM unnest(%s::text[], %s::text[], %s::text[]) AS u(t, a, au)""", [titles, abstracts, authors])

    def set_loading(self, conn, loading: bool) -> None:
        """Nothing to tune: the GIN index takes bulk inserts through its pending list."""

    # --- maintenance --------------------------------------------------------------------

    def optimize(self, conn) -> None:
        _run(conn, "DELETE FROM search_terms WHERE docs <= 0")
        _run(conn, "SELECT gin_clean_pending_list('ix_papers_tsv'::regclass)")
        _run(conn, "ANALYZE papers")
        _run(conn, "ANALYZE search_terms")

    def rebuild(self, conn) -> None:
        _run(conn, "DELETE FROM search_terms")
        _run(conn, "INSERT INTO search_terms (lexeme, docs, occurrences)"
                   " SELECT word, ndoc, nentry FROM ts_stat('SELECT tsv FROM papers')")
        _run(conn, "UPDATE search_stats SET docs = s.n, words = s.w FROM"
                   " (SELECT count(*) AS n, coalesce(sum(doc_len), 0) AS w FROM papers) s WHERE id = 1")

    def check(self, conn) -> list[str]:
        problems = []
        stored = _run(conn, "SELECT docs, words FROM search_stats WHERE id = 1").fetchone()
        actual = _run(conn, "SELECT count(*), coalesce(sum(doc_len), 0) FROM papers").fetchone()
        if stored is None or tuple(map(int, stored)) != tuple(map(int, actual)):
            problems.append(f"full-text statistics: {stored} papers and words recorded, {actual} present")
        wrong = _run(conn, """
            SELECT count(*) FROM (SELECT word, ndoc, nentry FROM ts_stat('SELECT tsv FROM papers')) s
            FULL JOIN (SELECT lexeme, docs, occurrences FROM search_terms WHERE docs <> 0) t ON t.lexeme = s.word
            WHERE s.ndoc IS DISTINCT FROM t.docs OR s.nentry IS DISTINCT FROM t.occurrences""").fetchone()[0]
        if wrong:
            problems.append(f"full-text statistics: {wrong} terms with a wrong count")
        return problems


# Labels in the order their columns come in a paper's positions (title, abstract, authors),
# and the ts_rank_cd weights {D, C, B, A} of the two calls that count them per word:
# title + abstract / 2^9, then authors.
_COUNTED = ("A", "D", "B")
_ABSTRACT_SCALE = 2 ** 9   # above the 256 positions a tsvector keeps of one word
_CALLS = ([1 / _ABSTRACT_SCALE, 0.0, 0.0, 1.0], [0.0, 0.0, 1.0, 0.0])
_PACK = 512                # a word's count under one label packed in 9 bits (at most 256)
TOGETHER_PAPERS = 50_000        # ids a statement of phrase_scores_many reads (each tsvector unnested)
TOGETHER_POSTINGS = 20_000_000  # (paper, word) pairs of the words it reads together, about (~250 MB)
_NONE_COUNTED = (np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), np.zeros((0, len(_COUNTED)), dtype=np.int64))


def _decoded(raw: np.ndarray) -> np.ndarray:
    """Per word, the columns title, abstract, authors of occurrence counts, from the two
    ts_rank_cd results per word (title + abstract / 2^9, authors): exact, as every count
    is an integer of at most 256 and every value a sum of powers of two."""
    out = np.zeros((raw.shape[0], raw.shape[1] // len(_CALLS) * len(_COUNTED)), dtype=np.int64)
    if not raw.size:
        return out
    title_abstract, authors = raw[:, 0::2], raw[:, 1::2]
    title = np.floor(title_abstract)
    out[:, 0::3] = title
    out[:, 1::3] = np.rint((title_abstract - title) * _ABSTRACT_SCALE)
    out[:, 2::3] = np.rint(authors)
    return out


def _batches(conn, lexemes: Sequence[str]) -> list[list[str]]:
    """`lexemes` in batches of about TOGETHER_POSTINGS papers in all (search_terms), read
    together and then scored: the memory a batch's counts take stays bounded."""
    if not lexemes:
        return []
    docs = dict(_run(conn, "SELECT lexeme, docs FROM search_terms WHERE lexeme = ANY(%s)",
                     [list(lexemes)]).fetchall())
    batches, batch, size = [], [], 0
    for lex in lexemes:
        if batch and size + docs.get(lex, 0) > TOGETHER_POSTINGS:
            batches.append(batch)
            batch, size = [], 0
        batch.append(lex)
        size += docs.get(lex, 0)
    batches.append(batch)
    return batches


def _statistics(conn) -> tuple[int, float, int]:
    """The catalogue's papers, their average length and the catalogue version (search_stats)."""
    papers, words, version = _run(
        conn, "SELECT s.docs, s.words, v.version FROM search_stats s, catalogue_version v").fetchone()
    papers = max(int(papers), 1)
    return papers, max(float(words) / papers, 1.0), version


def _norm(lengths: np.ndarray, average: float) -> np.ndarray:
    """The element-wise form of, per paper: norm = K1 * (1 - B + B * length / average)."""
    return K1 * (1 - B + B * lengths / average)


def _frequency(counts: np.ndarray, phrase: _Phrase, weight_of: Mapping[str, float]) -> np.ndarray:
    """A single word's weighted frequency per paper, from its counts per label (_COUNTED
    order): each occurrence's column weight added in position order (title, abstract,
    authors), as FTS5 adds them."""
    freq = np.zeros(len(counts), dtype=np.float64)
    for i, label in enumerate(_COUNTED):
        if label in phrase.labels:
            freq = _add_repeated(freq, counts[:, i], weight_of[label])
    return freq


def _bm25(ids: np.ndarray, freq: np.ndarray, idf: float, norm: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(ids, BM25 contribution, negative) of the papers where the weighted frequency is not 0."""
    hit = freq != 0
    f = freq[hit]
    return ids[hit], -(idf * f * (K1 + 1) / (f + norm[hit]))


def _single(phrase: _Phrase) -> bool:
    return len(phrase.lexemes) == 1 and not phrase.prefix


def _run(conn, sql: str, args: Sequence | None = None):
    """A statement in psycopg's own dialect on the app's connection (app/pg.py)."""
    conn._check_deadline()
    return conn.raw.execute(sql, args, prepare=False)


def _add_repeated(freq: np.ndarray, times: np.ndarray, weight: float) -> np.ndarray:
    """freq + weight + weight + ... (`times` additions per element), to the last bit: one
    multiplication when every partial sum is an exact integer, else one addition a round."""
    most = int(times.max()) if len(times) else 0
    if not most:
        return freq
    if float(weight).is_integer() and abs(weight) * most < 2 ** 40 and np.all(freq == np.floor(freq)):
        return freq + times * weight
    for k in range(most):
        freq = np.where(times > k, freq + weight, freq)
    return freq


def _weighted(phrase: _Phrase, terms: dict[str, list[tuple[int, str]]], weight_of: Mapping[str, float]) -> float:
    """The phrase's occurrences in one paper, each counted with its column's weight."""
    return sum(weight_of[label] for label in _hits(phrase, terms))


def _live_masks(text: Text, live: np.ndarray, present: Mapping[Words, np.ndarray]
                ) -> Iterable[tuple[Words, np.ndarray]]:
    """Each leaf in written order with the papers where its contribution counts: those under
    nodes they match (never an excluded side, nor an unmatched side of an OR)."""
    if isinstance(text, Words):
        yield text, live & present[text]
    elif isinstance(text, AnyOf):
        for part in text.parts:
            yield from _live_masks(part, live & _matches_all(part, present), present)
    else:
        for part in text.parts:
            yield from _live_masks(part, live, present)


def _matches_all(text: Text, present: Mapping[Words, np.ndarray]) -> np.ndarray:
    """Which of the papers match a text tree, from which contain each leaf."""
    if isinstance(text, Words):
        return present[text]
    if isinstance(text, AnyOf):
        out = _matches_all(text.parts[0], present).copy()
        for part in text.parts[1:]:
            out |= _matches_all(part, present)
        return out
    out = np.ones(len(next(iter(present.values()))), dtype=bool)
    for part in text.parts:
        out &= _matches_all(part, present)
    for part in text.excluded:
        out &= ~_matches_all(part, present)
    return out


def _hits(phrase: _Phrase, terms: dict[str, list[tuple[int, str]]]) -> list[str]:
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


def _tokens(text: str | None) -> list[tuple[int, int, str]]:
    """(start, end, lexeme) of each word of a text, as the index splits and stems it."""
    return [(m.start(), m.end(), lexeme(m.group(0).lower())) for m in _WORDS.finditer(text or "")]


def _text_matches(text: Text, tokens: Mapping[str, list[tuple[int, int, str]]]) -> bool:
    """Whether a row's text (its tokens per column) matches a text tree."""
    if isinstance(text, Words):
        phrase = _Phrase(text)
        return any(_matched([phrase], tokens[column], column) for column in phrase.columns)
    if isinstance(text, AnyOf):
        return any(_text_matches(p, tokens) for p in text.parts)
    return (all(_text_matches(p, tokens) for p in text.parts)
            and not any(_text_matches(e, tokens) for e in text.excluded))


def _matched(phrases: list[_Phrase], tokens: list[tuple[int, int, str]], column: str) -> list[tuple[int, int]]:
    """(first, last) token of each occurrence of a phrase searched in this column, overlapping
    occurrences merged: each is marked as one span, as FTS5's highlight() marks them."""
    spans = []
    lexemes = [token[2] for token in tokens]
    for phrase in phrases:
        if column not in phrase.columns:
            continue
        n = len(phrase.lexemes)
        if n == 1 and not phrase.prefix:  # most leaves: one comparison a token
            word = phrase.lexemes[0]
            spans += [(i, i) for i, lex in enumerate(lexemes) if lex == word]
            continue
        for start in range(len(lexemes) - n + 1):
            if all(phrase.matches_token(i, lexemes[start + i]) for i in range(n)):
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


def _snippet(abstract: str, tokens, phrases: list[_Phrase], size: int) -> str:
    """About `size` words of the abstract around its densest matches, cut with ELLIPSIS."""
    spans = _matched(phrases, tokens, "abstract")
    if len(tokens) <= size:
        return _marked(abstract, tokens, spans, 0, len(tokens))
    best, best_score = 0, (-1, 0)
    hits = sorted(i for first, last in spans for i in range(first, last + 1))
    for hit in hits:
        start = max(0, min(hit - size // 4, len(tokens) - size))
        inside = [i for i in hits if start <= i < start + size]
        score = (len({tokens[i][2] for i in inside}), len(inside))
        if score > best_score:
            best, best_score = start, score
    end = best + size
    text = _marked(abstract, tokens, spans, best, end)
    if best > 0:
        text = ELLIPSIS + text.lstrip()
    if end < len(tokens):
        text = text.rstrip() + ELLIPSIS
    return text
