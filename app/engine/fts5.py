"""SQLite FTS5, the search engine in use: every line of FTS5 SQL in the app is here.

The index is `papers_fts`, an external-content FTS5 table over `papers` (title,
abstract, authors; tokenizer `porter unicode61 remove_diacritics 2`), kept in step
by the `papers_fts_*` triggers of the migrations and read through `papers_fts_vocab`
for document frequencies. See app/engine/base.py for what each method promises.
"""

import threading
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache

import numpy as np
import orjson

from app.engine.base import ELLIPSIS, MARK_CLOSE, MARK_OPEN
from app.plan import AllOf, AnyOf, Text, Words
from app.sqlite_driver import sqlite3

TABLE = "papers_fts"
TOKENIZER = "porter unicode61 remove_diacritics 2"  # as the migrations create the index
SQL_CHUNK = 500  # ids per statement: well under SQLite's bound-parameter limit

_MATCH = f"SELECT rowid FROM {TABLE} WHERE {TABLE} MATCH ?"
_MATCH_IDS = f"SELECT group_concat(rowid) FROM {TABLE} WHERE {TABLE} MATCH ?"
# The unary + keeps the planner from turning IN into one FTS5 lookup per id (each
# re-reading whole posting lists) instead of one walk over the rowid range.
_WITHIN = " AND rowid BETWEEN ? AND ? AND +rowid IN (SELECT value FROM json_each(?))"
_HIGHLIGHT = (f"SELECT rowid, highlight({TABLE}, 0, '{MARK_OPEN}', '{MARK_CLOSE}'),"
              f" snippet({TABLE}, 1, '{MARK_OPEN}', '{MARK_CLOSE}', '{ELLIPSIS}', ?)"
              f" FROM {TABLE} WHERE {TABLE} MATCH ?")
_PAGE_TABLE = (f"CREATE VIRTUAL TABLE {TABLE} USING fts5(title, abstract, authors, tokenize='{TOKENIZER}')")


def quote(tokens: Sequence[str]) -> str:
    """One FTS5 string (a phrase when several tokens): the only way user text reaches FTS5."""
    return '"' + " ".join(tokens).replace('"', '""') + '"'


@lru_cache(maxsize=4096)
def _render(text: Text) -> str:
    """FTS5 MATCH text for a text tree (trees are immutable: cached)."""
    if isinstance(text, Words):
        expr = quote(text.tokens) + (" *" if text.prefix else "")
        if not text.columns:
            return expr
        columns = text.columns[0] if len(text.columns) == 1 else "{" + " ".join(text.columns) + "}"
        return f"{columns} : {expr}"
    if isinstance(text, AnyOf):
        return "(" + " OR ".join(_operand(p) for p in text.parts) + ")"
    expr = " AND ".join(_operand(p) for p in text.parts)
    if text.excluded:
        if len(text.parts) > 1:
            expr = f"({expr})"
        expr += "".join(f" NOT {_operand(e)}" for e in text.excluded)
    return expr


def _operand(text: Text) -> str:
    """A node's expression, safe to embed beside AND / OR / NOT."""
    return f"({_render(text)})" if isinstance(text, AllOf) else _render(text)


def _parse_ids(concatenated: str | None) -> list[int]:
    return orjson.loads("[" + concatenated + "]") if concatenated else []


_analyzer_lock = threading.Lock()


@lru_cache(maxsize=1)
def _analyzer() -> sqlite3.Connection:
    scratch = sqlite3.connect(":memory:", check_same_thread=False)
    scratch.execute(f"CREATE VIRTUAL TABLE scratch USING fts5(body, tokenize='{TOKENIZER}')")
    scratch.execute("CREATE VIRTUAL TABLE scratch_terms USING fts5vocab(scratch, 'instance')")
    return scratch


def _members(values: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """Which of `values` are in `ids` (ascending): one binary search each."""
    at = np.minimum(np.searchsorted(ids, values), len(ids) - 1)
    return ids[at] == values


class Fts5Engine:
    """The SearchEngine of app/engine/base.py on SQLite FTS5."""

    name = "sqlite-fts5"
    warm_terms = True   # the 1,151 terms in 2% of 165k papers: under a minute, in SQLite's own code

    # --- reading ----------------------------------------------------------------------

    def render(self, text: Text) -> str:
        return _render(text)

    def match_ids(self, conn, text: Text, within: Sequence[int] | None = None) -> list[int]:
        if within is None:
            return _parse_ids(conn.execute(_MATCH_IDS, (self.render(text),)).fetchone()[0])
        if not within:
            return []
        row = conn.execute(_MATCH_IDS + _WITHIN, (self.render(text), within[0], within[-1],
                                                   orjson.dumps(list(within)).decode())).fetchone()
        return _parse_ids(row[0])

    def rank(self, conn, text: Text, weights: tuple[float, float, float],
             candidates: Sequence[int] | None, lowest: int) -> list[tuple[int, float]]:
        sql = (f"SELECT rowid, bm25({TABLE}, {', '.join(map(str, weights))}) FROM {TABLE}"
               f" WHERE {TABLE} MATCH ? AND rowid >= ?")
        args: list = [self.render(text), lowest]
        if candidates is not None:
            sql += " AND +rowid IN (SELECT value FROM json_each(?))"
            args.append(orjson.dumps(list(candidates)).decode())
        cursor = conn.cursor()
        cursor.row_factory = None
        return cursor.execute(sql, args).fetchall()

    def phrase_scores(self, conn, words: Words, weights: tuple[float, float, float]
                      ) -> tuple[list[int], list[float]]:
        cursor = conn.cursor()
        cursor.row_factory = None
        rows = cursor.execute(f"SELECT rowid, bm25({TABLE}, {', '.join(map(str, weights))}) FROM {TABLE}"
                              f" WHERE {TABLE} MATCH ?", (self.render(words),)).fetchall()
        if not rows:
            return [], []
        ids, scores = zip(*rows)  # ascending rowid: FTS5 walks the postings in rowid order
        return list(ids), list(scores)

    def phrase_scores_many(self, conn, phrases: Sequence[Words], weights: tuple[float, float, float]
                           ) -> list[tuple[list[int], list[float]]]:
        return [self.phrase_scores(conn, words, weights) for words in phrases]  # a posting list each

    def highlight(self, text: Text, rows: Sequence[tuple[int, str, str, str]],
                  snippet_tokens: int) -> dict[int, tuple[str | None, str | None]]:
        # The page's own rows in a scratch index of their own, marked in one statement:
        # highlight() and snippet() read only the row they mark, so the marks are those the
        # catalogue's index would give, while a prefix expands over a page's words, not over
        # the catalogue's (reaching a page's rows in the catalogue's index re-walked every
        # expansion of every prefix once per row: a minute for fifty prefixes).
        if not rows:
            return {}
        scratch = sqlite3.connect(":memory:")
        try:
            scratch.execute(_PAGE_TABLE)
            scratch.executemany(f"INSERT INTO {TABLE}(rowid, title, abstract, authors) VALUES (?, ?, ?, ?)", rows)
            return {paper_id: (title, snippet) for paper_id, title, snippet in
                    scratch.execute(_HIGHLIGHT, (snippet_tokens, self.render(text)))}
        finally:
            scratch.close()

    def refuses(self, exc: BaseException) -> bool:
        text = str(exc).lower()
        return isinstance(exc, sqlite3.OperationalError) and ("fts5" in text or "malformed match" in text)

    def document_frequencies(self, conn, terms: Iterable[str]) -> dict[str, int]:
        terms = sorted(set(terms))
        out: dict[str, int] = {}
        for start in range(0, len(terms), SQL_CHUNK):
            chunk = terms[start:start + SQL_CHUNK]
            out.update(conn.execute(f"SELECT term, doc FROM {TABLE}_vocab WHERE term IN"
                                    f" ({','.join('?' * len(chunk))})", chunk).fetchall())
        return out

    def expansion(self, conn, prefix: str) -> tuple[int, int]:
        # A range over the vocabulary table reads only the terms in it (milliseconds).
        row = conn.execute(f"SELECT count(*), coalesce(sum(doc), 0) FROM {TABLE}_vocab"
                           " WHERE term >= ? AND term < ?", (prefix, prefix + "\U0010ffff")).fetchone()
        return int(row[0]), int(row[1])

    def analyze(self, text: str) -> list[str]:
        # The index's own tokenizer on a scratch in-memory table: a Porter stemmer in
        # Python disagrees with it on words such as "evaluated" (evaluat / evalu).
        with _analyzer_lock:
            scratch = _analyzer()
            scratch.execute("DELETE FROM scratch")
            scratch.execute("INSERT INTO scratch(rowid, body) VALUES (1, ?)", (text,))
            return [term for term, in scratch.execute(
                "SELECT term FROM scratch_terms ORDER BY offset")]

    def vocabulary(self, conn, min_docs: int) -> dict[str, tuple[int, int]]:
        cursor = conn.cursor()
        cursor.row_factory = None
        return {term: (docs, count) for term, docs, count in cursor.execute(
            f"SELECT term, doc, cnt FROM {TABLE}_vocab WHERE doc >= ?", (min_docs,))}

    def similar(self, conn, terms: Mapping[str, float], limit: int, exclude: Sequence[int] = (),
                min_shared: int = 2, cache=None) -> list[tuple[int, float, tuple[str, ...]]]:
        # One posting walk per term (kept in `cache` for the next paper: the middle of the
        # vocabulary recurs from paper to paper); the walks are counted and scored as
        # arrays (numpy), since a Python loop over the 40,000 postings of sixteen terms
        # cost 30 ms. FTS5's bm25() over an OR of a dozen terms costs ~10 us a match.
        def walk(word: str) -> np.ndarray:
            ids = np.asarray(self.match_ids(conn, Words((word,), ("title", "abstract"))), dtype=np.int32)
            ids.flags.writeable = False   # shared by every request through the cache
            return ids
        postings = {word: cache.get_or(word, lambda w=word: walk(w)) if cache is not None else walk(word)
                    for word in terms}
        walks = [(word, ids) for word, ids in postings.items() if len(ids)]
        if not walks:
            return []
        every = np.concatenate([ids for _, ids in walks])
        weights = np.repeat(np.array([terms[word] for word, _ in walks], dtype=np.float64),
                            [len(ids) for _, ids in walks])
        papers, where, counts = np.unique(every, return_inverse=True, return_counts=True)
        scores = np.bincount(where, weights=weights)
        keep = (counts >= min_shared) & ~np.isin(papers, np.asarray(exclude, dtype=np.int64))
        papers, scores = papers[keep], scores[keep]
        best = np.lexsort((papers, -scores))[:limit]   # highest score first, ties to the lower id
        chosen = papers[best]
        # Which terms each chosen paper contains: one sorted search per term, not per paper and term.
        contains = [(word, _members(chosen, ids)) for word, ids in walks]
        return [(int(paper), float(scores[at]), tuple(word for word, has in contains if has[i]))
                for i, (paper, at) in enumerate(zip(chosen, best))]

    def written_as_typed(self, conn, word: str, sample: int) -> bool:
        row = conn.execute(
            f"SELECT 1 FROM papers WHERE id IN ({_MATCH} LIMIT ?)"
            " AND (instr(lower(title), ?) OR instr(lower(abstract), ?) OR instr(lower(authors), ?)) LIMIT 1",
            (quote([word]), sample, word, word, word)).fetchone()
        return row is not None

    # --- writing ----------------------------------------------------------------------

    def suspend_sync(self, conn) -> list[str]:
        triggers = conn.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'papers'"
            f" AND name LIKE '{TABLE}_%'").fetchall()
        for name, _sql in triggers:
            conn.execute(f'DROP TRIGGER "{name}"')
        return [sql for _name, sql in triggers]

    def resume_sync(self, conn, token: list[str]) -> None:
        for sql in token:
            conn.execute(sql)

    def index(self, conn, ids: Sequence[int]) -> None:
        ids = sorted(ids)
        for start in range(0, len(ids), SQL_CHUNK):
            chunk = ids[start:start + SQL_CHUNK]
            conn.execute(f"INSERT INTO {TABLE} (rowid, title, abstract, authors)"
                         f" SELECT id, title, abstract, authors FROM papers WHERE id IN ({','.join('?' * len(chunk))})",
                         chunk)

    def unindex(self, conn, paper_id: int, title: str, abstract: str, authors: str) -> None:
        conn.execute(f"INSERT INTO {TABLE} ({TABLE}, rowid, title, abstract, authors)"
                     " VALUES ('delete', ?, ?, ?, ?)", (paper_id, title, abstract, authors))

    def set_loading(self, conn, loading: bool) -> None:
        # Fewer, larger segment merges while loading (about a quarter less work); 4 is FTS5's default.
        conn.execute(f"INSERT INTO {TABLE}({TABLE}, rank) VALUES ('automerge', ?)", (16 if loading else 4,))

    # --- maintenance --------------------------------------------------------------------

    def optimize(self, conn) -> None:
        conn.execute(f"INSERT INTO {TABLE}({TABLE}) VALUES ('optimize')")

    def rebuild(self, conn) -> None:
        conn.execute(f"INSERT INTO {TABLE}({TABLE}) VALUES ('rebuild')")

    def check(self, conn) -> list[str]:
        try:
            conn.execute(f"INSERT INTO {TABLE}({TABLE}, rank) VALUES ('integrity-check', 1)")
        except Exception as exc:  # noqa: BLE001 - reported, not handled
            return [f"full-text index: {exc}"]
        return []
