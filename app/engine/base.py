"""The search engine's interface: everything the app asks of a full-text engine.

The SQLite FTS5 engine (app/engine/fts5.py) is the one in use; a PostgreSQL
engine implements the same methods. Nothing outside app/engine/ writes engine
SQL: the rest of the app passes typed plans (app/plan.py) and paper ids.

Conventions:
- `conn` is a DB-API connection from app/db.py (the engine never opens one); a
  method that writes runs inside the caller's transaction and never commits.
- Paper ids are the `papers.id` integers; they are the engine's document ids.
- Text arguments are `plan.Text` trees; `render` gives the engine's own query text
  for one, which callers may use as a cache key and nothing else.
- Highlights come back as plain text with MARK_OPEN / MARK_CLOSE around matched
  words (characters of Unicode's private use area); escaping and turning them into
  <mark> is the caller's job (app/search/snippets.py), so no markup ever comes
  from the engine.
"""

from collections.abc import Iterable, Mapping, Sequence
from typing import Protocol, runtime_checkable

from app.plan import Text, Words

MARK_OPEN, MARK_CLOSE = "\ue000", "\ue001"
ELLIPSIS = "…"


@runtime_checkable
class SearchEngine(Protocol):
    """A full-text engine over the papers table's title, abstract and authors."""

    name: str
    # Whether the server scores the catalogue's frequent terms at start (search.warm): worth
    # it where scoring a term is quick and leaves the interpreter free (FTS5's bm25()).
    warm_terms: bool

    # --- reading: matching and ranking ------------------------------------------------

    def render(self, text: Text) -> str:
        """The engine's query text for a text tree (FTS5 MATCH syntax, a tsquery, ...).

        Deterministic: equal trees give equal strings. Every user token is quoted
        or escaped, so no input can become engine syntax.
        """

    def match_ids(self, conn, text: Text, within: Sequence[int] | None = None) -> list[int]:
        """Ids of the papers matching `text`, ascending (full-text filters and tag rules).

        `within` (sorted ascending) restricts the answer to those ids; the engine
        should use their range to skip most of its postings (tagging a batch of
        10,000 new papers must not read whole posting lists once per paper).
        """

    def rank(self, conn, text: Text, weights: tuple[float, float, float],
             candidates: Sequence[int] | None, lowest: int) -> list[tuple[int, float]]:
        """(id, score) for the papers matching `text`, lower score = more relevant.

        BM25 with per-column `weights` (title, abstract, authors). `candidates`
        (ascending) limits the papers scored; None: every match with id >= `lowest`.
        Term statistics (document frequencies, average lengths) are those of the
        whole catalogue, not of the candidates, so a score does not depend on the
        filters around it. Order of the returned list is unspecified.
        """

    def phrase_scores(self, conn, words: Words, weights: tuple[float, float, float]
                      ) -> tuple[Sequence[int], Sequence[float]]:
        """(ids ascending, score of each) for every paper matching one leaf `words` alone:
        its BM25 contribution with these column `weights`, lower = more relevant.

        The search assembles the score of any text tree from these (app/search/ranking.py):
        the sum, in the order the leaves are written, of the contributions of the leaves
        in branches the paper matches (not the unmatched side of an OR, never an excluded
        leaf). An engine whose `rank` scores a tree so (FTS5's bm25 does, bit for bit)
        gives the same order through either method; statistics are the whole catalogue's.
        """

    def phrase_scores_many(self, conn, phrases: Sequence[Words], weights: tuple[float, float, float]
                           ) -> list[tuple[Sequence[int], Sequence[float]]]:
        """`phrase_scores` of each of `phrases`, in their order: the start-up warm-up scores
        hundreds of frequent words, which an engine may read in fewer passes than one a word."""

    def highlight(self, text: Text, rows: Sequence[tuple[int, str, str, str]],
                  snippet_tokens: int) -> dict[int, tuple[str | None, str | None]]:
        """id -> (title with matches marked, abstract excerpt of about
        `snippet_tokens` tokens with matches marked and ELLIPSIS where cut), for a
        page's rows given as (id, title, abstract, authors), all in one pass.

        Only for rows that match `text`; a missing id, or None, means "show it plain".
        Its cost follows the page's text, not the catalogue (a prefix stands for the
        page's words only)."""

    def refuses(self, exc: BaseException) -> bool:
        """Whether `exc`, raised by one of the methods above, means the engine refused
        the query text (the search then shows no results rather than an error page).
        Rendering quotes every token, so this is a last line of defence."""

    # --- reading: vocabulary --------------------------------------------------------

    def document_frequencies(self, conn, terms: Iterable[str]) -> dict[str, int]:
        """term -> number of papers containing it, for terms in the engine's
        normalized form (Porter stems); unknown terms are left out."""

    def expansion(self, conn, prefix: str) -> tuple[int, int]:
        """(terms the prefix search `prefix*` stands for, papers containing each, added
        up): what such a search reads, known before it runs (the query cost model)."""

    def analyze(self, text: str) -> list[str]:
        """The terms the index would store for `text`, one per token in order (the
        normalized form `document_frequencies` and `vocabulary` use)."""

    def vocabulary(self, conn, min_docs: int) -> dict[str, tuple[int, int]]:
        """Every term (normalized form) found in at least `min_docs` papers -> (the number
        of those papers, its occurrences in them), in one pass: related papers keep it per
        state of the database, because asking for a few dozen terms one by one costs more
        than reading them all once. Occurrences per paper tell a subject word, which
        recurs where it occurs, from a word of general prose, which appears once."""

    def similar(self, conn, terms: Mapping[str, float], limit: int, exclude: Sequence[int] = (),
                min_shared: int = 2, cache=None) -> list[tuple[int, float, tuple[str, ...]]]:
        """"More like this": the `limit` papers whose title or abstract contain at least
        `min_shared` of `terms` (words as a paper writes them -> weight), best first, as
        (id, score, the terms it contains); higher score is better; `exclude` left out.

        Every paper containing the terms is scored, whatever its date: there is no
        window. A paper's score is the sum of the weights of the terms it contains (the
        caller puts BM25's inverse document frequency into the weights); ties go to the
        lower id. The cost grows with the terms' document counts: callers choose rare terms.

        `cache`, when given, is a store for one state of the database with `get_or(key,
        compute)` (app/search/catalogue.py's Memo): the engine may keep there what it reads
        per term (an immutable value) for the next call; it changes no result. An engine
        with nothing worth keeping ignores it.
        """

    def written_as_typed(self, conn, word: str, sample: int) -> bool:
        """Whether one of the first `sample` papers matching `word` spells it exactly
        so (case-insensitive) in title, abstract or authors: the index stores stems,
        the spelling corrector needs to know whether the surface form exists."""

    # --- writing: indexing -----------------------------------------------------------

    def suspend_sync(self, conn) -> object:
        """Stop keeping the index in step with the papers table row by row (drop the
        triggers) for a bulk write; returns what `resume_sync` needs to restore it.
        Inside the caller's transaction: no committed state has the two out of step."""

    def resume_sync(self, conn, token: object) -> None:
        """Keep the index in step row by row again (re-create the triggers)."""

    def index(self, conn, ids: Sequence[int]) -> None:
        """Add the current title/abstract/authors of these papers to the index
        (papers not indexed yet, or removed with `unindex` first)."""

    def unindex(self, conn, paper_id: int, title: str, abstract: str, authors: str) -> None:
        """Remove a paper's indexed text, given the text that was indexed (an
        external-content index cannot read it back once the row changed)."""

    def set_loading(self, conn, loading: bool) -> None:
        """Tune the index for a long bulk load (fewer, larger merges) or back to normal."""

    # --- maintenance -------------------------------------------------------------------

    def optimize(self, conn) -> None:
        """Merge the index into its most compact form (after a large load)."""

    def rebuild(self, conn) -> None:
        """Rebuild the whole index from the papers table."""

    def check(self, conn) -> list[str]:
        """Problems with the index's consistency (empty: none)."""
