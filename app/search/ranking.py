"""Exact BM25 order over every match, from cached per-phrase contributions.

BM25 as the engine computes it is a sum over the query's phrases, in the order they
are written, of one contribution per phrase and paper; a contribution depends only on
the phrase, the paper and statistics of the whole catalogue (the phrase's document
count, the paper's length, the average length). A phrase in a branch of the query the
paper does not match (the unmatched side of an OR, the excluded side of a NOT)
contributes nothing. So the score of any text tree is assembled here from the scores
of its leaves asked alone (`engine.phrase_scores`), bit for bit what the engine gives
for the whole tree, and:

- every match is ranked, whatever the filters: the filters only choose which of the
  scored papers are sorted (a partial sort for the page, ties newest first);
- a leaf is scored once per catalogue state and cached (`Catalogue.leaves`), so a new
  query made of words seen before costs array arithmetic, not an index walk; the
  words that occur most are scored when the server starts (`warm`), so the broadest
  queries are fast the first time they are asked;
- the match set of the query comes from the same arrays (no second engine query);
- a query with a phrase not scored yet: when some of its phrases are scored, the
  engine finds the query's matches without scoring (postings only) and scores just the
  new phrases for those papers (`engine.rank` with candidates); when none are, one
  engine statement scores the query's own matches (the same values, and an AND of a
  rare and a common word touches far fewer papers than the common word has).

Arrays are numpy: a leaf of 128k papers is 1.5 MB (ids int32, scores float64; the
scores must stay float64 to be the engine's to the last bit).
"""

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from math import floor

import numpy as np

from app.paper_sets import check_deadline
from app.engine import get_engine
from app.plan import AnyOf, Text, Words
from app.search.catalogue import Catalogue

WEIGHTS = (5.0, 1.0, 2.0)   # title, abstract, authors: nDCG is flat for title weights 4-10
WARM_WORDS = 4000           # frequent words looked at when warming up ...
WARM_MIN_SHARE = 0.02       # ... for the index terms in at least 2% of the catalogue: from 5%, 38 MB
                            # more at 165k, and never-seen searches' CPU p99 46 -> 28 ms
WARM_BATCH = 256            # phrases the engine scores at once while warming up


@dataclass(frozen=True)
class Scored:
    """A text tree over the catalogue: which papers match and their scores (lower is better)."""
    match: np.ndarray   # bool per paper id
    score: np.ndarray   # float64 per paper id (0 where not matched)

    def bits(self) -> int:
        """The match set as a catalogue bitset (bit i = paper id i)."""
        return int.from_bytes(np.packbits(self.match, bitorder="little").tobytes(), "little")


def _frozen(array: np.ndarray) -> np.ndarray:
    array.flags.writeable = False  # cached and shared between threads
    return array


def _leaf_key(words: Words) -> tuple:
    """A phrase's cache key: the index terms it searches for, so "leveraging" and "leverages"
    (one term of the index, the same papers and scores) are scored and kept once."""
    engine = get_engine()
    if not words.prefix:
        terms = _terms(engine.name, words.tokens)
        if terms is not None:
            return (terms, words.columns, WEIGHTS)
    return (engine.render(words), WEIGHTS)


@lru_cache(maxsize=65536)
def _terms(engine_name: str, tokens: tuple[str, ...]) -> tuple[str, ...] | None:
    terms = tuple(get_engine().analyze(" ".join(tokens)))
    return terms if len(terms) == len(tokens) else None  # one term per word, or no key of terms


def known(cat: Catalogue, words: Words) -> bool:
    """Whether a phrase is scored already (costs array arithmetic, not an index walk)."""
    key = _leaf_key(words)
    return key in cat.warm_leaves or cat.leaves.peek(key) is not None


def leaf(conn, cat: Catalogue, words: Words) -> tuple[np.ndarray, np.ndarray]:
    """(ids, contributions) of one phrase alone, cached per catalogue state."""
    engine = get_engine(conn)
    key = _leaf_key(words)
    warm = cat.warm_leaves.get(key)
    if warm is not None:
        return warm

    return cat.leaves.get_or(key, lambda: _kept(cat, *engine.phrase_scores(conn, words, WEIGHTS)))


def _kept(cat: Catalogue, ids, scores) -> tuple[np.ndarray, np.ndarray]:
    """A phrase's (ids, contributions) as the catalogue keeps them: read-only arrays of its papers."""
    ids = np.asarray(ids, dtype=np.int32)
    scores = np.asarray(scores, dtype=np.float64)
    keep = ids < cat.size  # a paper added since the catalogue was built waits for the next one
    return _frozen(ids[keep]), _frozen(scores[keep])


def score(conn, cat: Catalogue, text: Text) -> Scored:
    """The matches of a text tree and their BM25 scores (cached per catalogue state)."""
    return cat.scores.get_or((get_engine(conn).render(text), WEIGHTS), lambda: _score(conn, cat, text))


def _leaves(text: Text):
    if isinstance(text, Words):
        yield text
    else:
        for part in text.parts:
            yield from _leaves(part)
        for part in getattr(text, "excluded", ()):
            yield from _leaves(part)


def _score(conn, cat: Catalogue, text: Text) -> Scored:
    leaves = list(_leaves(text))
    unknown = [w for w in leaves if not known(cat, w)]
    if isinstance(text, Words) or not unknown:
        return _assembled(conn, cat, text)
    if len(unknown) < len(leaves):
        return _completed(conn, cat, text, matches(conn, cat, text), unknown)
    # Only words never scored before: one engine statement scores the query's own matches
    # (an AND of a rare and a common word touches far fewer papers than the common word
    # has), the same values the assembly would give; its leaves stay unscored.
    return _ranked(conn, cat, text, None)


def _completed(conn, cat: Catalogue, text: Text, within: np.ndarray, unknown: list[Words]) -> Scored:
    """The scores of a text tree for the papers of `within` (all of which match it), when some
    of its phrases are scored already (the frequent words, warmed at start) and `unknown` are
    not: each of those is scored by the engine for these papers only, the rest is array
    arithmetic. Scoring the whole tree in one statement would score the frequent words again
    in every match ("for", "of" and "model" beside one new word: twice the time)."""
    ids = np.flatnonzero(within).tolist()
    engine = get_engine(conn)
    given = {}
    for words in unknown:
        rows = engine.rank(conn, words, WEIGHTS, ids, 0) if ids else []
        given[_leaf_key(words)] = (np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows)),
                                   np.fromiter((r[1] for r in rows), dtype=np.float64, count=len(rows)))
    # Each phrase's papers are exact among `within` (the only papers it was asked for), so
    # is every node's match there, and with it every sum; outside `within` nothing counts.
    whole = _assembled(conn, cat, text, given)
    match = whole.match & within
    return Scored(_frozen(match), _frozen(np.where(match, whole.score, 0.0)))


def _ranked(conn, cat: Catalogue, text: Text, candidates: list[int] | None) -> Scored:
    """One engine statement's BM25 for the text's matches (among `candidates`, if given)."""
    size = cat.size
    rows = get_engine(conn).rank(conn, text, WEIGHTS, candidates, 0)
    ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
    scores = np.fromiter((r[1] for r in rows), dtype=np.float64, count=len(rows))
    keep = ids < size  # a paper added since the catalogue was built waits for the next one
    match = np.zeros(size, dtype=bool)
    match[ids[keep]] = True
    total = np.zeros(size, dtype=np.float64)
    total[ids[keep]] = scores[keep]
    return Scored(_frozen(match), _frozen(total))


def _assembled(conn, cat: Catalogue, text: Text, given: dict | None = None) -> Scored:
    size = cat.size
    masks: dict[int, np.ndarray] = {}
    arrays: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def match(node: Text) -> np.ndarray:
        check_deadline()  # Python work counts against the request's time too
        if isinstance(node, Words):
            found = given.get(_leaf_key(node)) if given else None
            ids, scores = arrays[id(node)] = found if found is not None else leaf(conn, cat, node)
            m = np.zeros(size, dtype=bool)
            m[ids] = True
        elif isinstance(node, AnyOf):
            m = np.zeros(size, dtype=bool)
            for part in node.parts:
                m |= match(part)
        else:
            m = np.ones(size, dtype=bool)
            for part in node.parts:
                m &= match(part)
            for part in node.excluded:
                m &= ~match(part)
        masks[id(node)] = m
        return m

    root = match(text)
    total = np.zeros(size, dtype=np.float64)

    # Contributions are added in the order the leaves are written, as the engine adds
    # them, so every sum is the engine's to the last bit; a leaf counts only where
    # every node above it matched.
    def add(node: Text, live: np.ndarray) -> None:
        if isinstance(node, Words):
            ids, scores = arrays[id(node)]
            on = live[ids]
            total[ids[on]] += scores[on]
        elif isinstance(node, AnyOf):
            for part in node.parts:
                add(part, live & masks[id(part)])
        else:
            for part in node.parts:
                add(part, live)

    add(text, root)
    return Scored(_frozen(root), _frozen(total))


def matches(conn, cat: Catalogue, text: Text) -> np.ndarray:
    """The papers matching a text tree, as a bool per paper id, cached per catalogue state.
    From the scored arrays when every phrase is scored already; else from the engine's
    match alone (reading postings, no BM25), which costs far less than scoring."""
    if all(known(cat, w) for w in _leaves(text)):
        return score(conn, cat, text).match

    def compute():
        ids = np.asarray(get_engine(conn).match_ids(conn, text), dtype=np.int64)
        mask = np.zeros(cat.size, dtype=bool)
        mask[ids[ids < cat.size]] = True
        return _frozen(mask)
    return cat.matches.get_or(("mask", get_engine(conn).render(text)), compute)


def at_least(conn, cat: Catalogue, counted: list[Text], need: int,
             excluded: np.ndarray | None = None) -> np.ndarray:
    """Papers matching at least `need` of `counted` and none of `excluded` (the match of a
    minimum-should-match: the fallback of a query whose AND finds too little)."""
    hits = np.zeros(cat.size, dtype=np.int16)
    for part in counted:
        hits += matches(conn, cat, part)
    match = hits >= need
    if excluded is not None:
        match &= ~excluded
    return match


def score_within(conn, cat: Catalogue, text: Text, within: np.ndarray) -> Scored:
    """The BM25 scores of a text tree for the papers of `within` (all of which match it).
    Assembled from scored phrases when all are scored; else the phrases not scored yet are
    scored by the engine for those papers only; the same values either way."""
    leaves = list(_leaves(text))
    unknown = [w for w in leaves if not known(cat, w)]
    if not unknown:
        whole = score(conn, cat, text)
        return Scored(_frozen(within & whole.match), whole.score)
    if len(unknown) < len(leaves):
        return _completed(conn, cat, text, within, unknown)
    return _ranked(conn, cat, text, np.flatnonzero(within).tolist())


def required(count: int) -> int:
    """How many of `count` meaningful terms a loosened query still requires: 2 of 3, 3 of 4, 3 of 5."""
    return max(1, floor(count * 0.75))


def mask(bits: int, size: int) -> np.ndarray:
    """A catalogue bitset as a bool array."""
    length = max((size + 7) // 8, (bits.bit_length() + 7) // 8)
    raw = np.frombuffer(bits.to_bytes(length, "little"), dtype=np.uint8)
    return np.unpackbits(raw, bitorder="little", count=size).view(bool)


def page(cat: Catalogue, scored: Scored, results: int, pinned: int, start: int, count: int) -> list[int]:
    """Ids of one page of `results` in BM25 order (ties newest first), the `pinned` papers
    (a loosened query's strict matches) before the rest."""
    chosen = mask(results, cat.size)
    ranks = np.frombuffer(cat.date_rank, dtype=np.int32)
    groups = [chosen]
    if pinned:
        first = mask(pinned, cat.size) & chosen
        groups = [first, chosen & ~first]
    out: list[int] = []
    for group in groups:
        ids = np.flatnonzero(group)
        if start >= len(ids):
            start -= len(ids)
            continue
        out += _top(ids, scored.score[ids], ranks, start, count - len(out))
        start = 0
        if len(out) >= count:
            break
    return out


def _top(ids: np.ndarray, scores: np.ndarray, ranks: np.ndarray, skip: int, take: int) -> list[int]:
    """The members skip..skip+take of ids sorted by (score, newest first): a partial sort
    that keeps every paper tied with the last one needed, then an exact sort of those."""
    k = skip + take
    if k < len(ids):
        kth = np.partition(scores, k - 1)[k - 1]
        keep = scores <= kth
        ids, scores = ids[keep], scores[keep]
    order = np.lexsort((ranks[ids], scores))
    return ids[order][skip:skip + take].tolist()


# --- warming up --------------------------------------------------------------------------

_warming: set[tuple] = set()
_warming_lock = threading.Lock()


def warm(conn, cat: Catalogue, words: list[str], phrases: Sequence[Words] = ()) -> None:
    """Score once every index term found in WARM_MIN_SHARE of the catalogue, each through the
    first of the catalogue's frequent `words` that searches for it (a new query made of such
    words is then as fast the first time as later), and the `phrases` found as often (the
    expansions of synonyms: "LLM" is also "large language model", slower to score than a
    word). Runs in the caller's thread; `warm_in_background` starts one."""
    engine = get_engine(conn)
    floor_docs = max(1, int(WARM_MIN_SHARE * cat.total))
    frequent = set(engine.vocabulary(conn, floor_docs))
    # The terms themselves last: numbers and names are no words of the spelling vocabulary.
    nodes = [Words((word,)) for word in [*words, *sorted(frequent)]] + list(phrases)
    todo: dict = {}   # key -> the first node found for it
    for node in nodes:
        key = _leaf_key(node)
        terms = key[0] if isinstance(key[0], tuple) else ()
        if key in cat.warm_leaves or key in todo or (len(node.tokens) == 1 and not frequent.intersection(terms)):
            continue
        todo[key] = node
    # In batches, so that each is in use as soon as it is scored, and the engine may read a
    # batch's words together (PostgreSQL: one pass over the tsvectors for many words).
    pending = list(todo.items())
    for start in range(0, len(pending), WARM_BATCH):
        batch = pending[start:start + WARM_BATCH]
        fresh = [(key, node) for key, node in batch if cat.leaves.peek(key) is None]
        scored = dict(zip([key for key, _ in fresh],
                          engine.phrase_scores_many(conn, [node for _, node in fresh], WEIGHTS) if fresh else []))
        for key, node in batch:
            if key in scored:
                ids, scores = cat.leaves.get_or(key, lambda: _kept(cat, *scored[key]))
            else:
                ids, scores = leaf(conn, cat, node)   # kept before
            if len(ids) >= floor_docs:
                cat.warm_leaves[key] = (ids, scores)


def warm_in_background(connect, cat: Catalogue, words: list[str],
                       phrases: Sequence[Words] = ()) -> threading.Thread | None:
    """Warm the catalogue in a daemon thread with its own connection (once per catalogue)."""
    with _warming_lock:
        if cat.signature in _warming:
            return None
        _warming.add(cat.signature)

    def work():
        warm(connect(), cat, words, phrases)  # a connection of this thread's own
    thread = threading.Thread(target=work, name="warm-ranking", daemon=True)
    thread.start()
    return thread
