"""Related papers by content: "more like this" over the whole catalogue, with the reason.

A paper's most distinctive terms are the words of its title and abstract weighted as
BM25 weighs a query: the inverse document frequency of the term in the catalogue
(from the engine's vocabulary) times the saturated count of the term in the paper,
a title word counting three times, times how much the term recurs in the papers that
use it (subject words do, words of prose do not). The sixteen heaviest terms that other
papers share (found in 2 papers to 5% of them: rarer is this paper alone, commoner costs
time and says little) go to the engine's `similar`, which finds, over every date, the
papers sharing the most weight of them (each term's papers are kept per state of the
database: the middle of the vocabulary comes back from paper to paper). Sharing a few
rare words is not yet being about the same thing ("Monte Carlo" in a market simulation
and in an atomistic one), so each candidate's evidence is weighed by a logistic model
fitted to blind judgments of related papers: the cosine of the two papers' whole weighted
term vectors and of their titles', the title's phrases written as phrases ("knowledge
distillation" is more than its two words apart), the weight of the distinctive terms shared,
shared topics, a shared author and a shared arXiv category. The first FIRST_SHOWN candidates
are shown from FIRST_LIKELIHOOD of being judged related, the others from MIN_LIKELIHOOD: a
paper with few true neighbours shows its likeliest few, not six that merely share words.
Each result carries its reason: the shared terms, topics and authors.
"""

import math
import re
import threading
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from app import papers
from app.db import reader
from app.engine import get_engine
from app.papers import PaperPage
from app.results import Hit, TagRef
from app.search.catalogue import catalogue

MAX_TERMS = 16
MAX_SHARE = 0.05           # a term in more papers than this share is not distinctive
MIN_CAP = 50               # ... unless the catalogue is so small that the share says nothing
TITLE_WEIGHT = 3
K1 = 1.2                   # BM25's term-frequency saturation
CANDIDATES = 40            # papers sharing the most weight of those terms, weighed again below
MIN_SHARED_TERMS = 2       # one shared word is a coincidence, not a relation
MIN_PHRASE_IDF = 3.0       # a title phrase's two idfs, summed, at least: "large language" says nothing
# How likely a candidate is to be judged related, as a logistic model of its evidence (the
# weights fitted to the blind judgments of tests/relevance/related_judgments.toml on the 165k
# corpus: `python -m bench.related_fit`). Each evidence is on a scale that does not depend on the
# catalogue's size, so the same weights hold for the seed and for a million papers.
WEIGHTS = {
    "cosine": 1.01,        # of the two papers' whole weighted term vectors (0 to 1)
    "titles": 0.60,        # cosine of the two titles' term vectors
    "phrases": 1.43,       # share of the title's phrase weight the candidate writes as phrases
    "shared": 1.42,        # log of the weight of the distinctive terms shared, in rarest-term units
    "topics": 0.81,        # per shared topic, two at most
    "author": 1.91,        # any shared author
    "category": 0.79,      # a shared arXiv category (a paper across fields shares words only)
}
BIAS = -1.95
MAX_LINKS = 2 * WEIGHTS["topics"] + WEIGHTS["author"] + WEIGHTS["category"]
# Below these likelihoods a candidate is not shown, even if fewer than the limit are left: a
# paper with few true neighbours shows those, not six that merely share some words. The likeliest
# two need less, so a paper with no sure neighbour still shows its best; past them, candidates
# 0.6-0.7 likely were judged related only about 2 times in 3. Chosen by cross-validation on the
# judgments (`python -m bench.related_fit`).
FIRST_SHOWN, FIRST_LIKELIHOOD = 2, 0.55
MIN_LIKELIHOOD = 0.7
PRIOR_RATIO, PRIOR_PAPERS = 1.4, 5   # occurrences per paper assumed for a rare term, and its weight
MIN_BURST, MAX_BURST = 0.1, 1.5     # bounds of the recurrence weight (log2 of the ratio)
Vocabulary = Mapping[str, tuple[int, int]]  # term -> (papers using it, occurrences in them)

STOPWORDS = frozenset("""
a about above across after again against all almost also although always am among an and another any
are around as at be became because been before being below between both but by can could did do does
doing done during each either else etc even ever every few for from further had has have having here
how however i if in into is it its itself just least less like made make makes many may might more most
much must my neither no nor not of off often on once one only or other others our out over own per
perhaps rather same several shall she should show shows shown since so some such than that the their
them then there these they this those though through thus to too toward towards under until up upon us
use used uses using very via was we well were what when where whether which while who whom whose why
will with within without would yet you your paper propose proposed present approach method methods
results result new novel based work study task tasks model models data performance existing first two
three significant significantly various different however furthermore moreover code available github
https http com www state art""".split())


@dataclass
class Related:
    hit: Hit
    terms: list[str] = field(default_factory=list)     # shared distinctive words
    tags: list[TagRef] = field(default_factory=list)   # shared topics
    authors: list[str] = field(default_factory=list)   # shared authors

    @property
    def reason(self) -> str:
        parts = []
        if self.terms:
            parts.append("shares " + ", ".join(self.terms))
        if self.tags:
            parts.append("also in " + ", ".join(t.name for t in self.tags))
        if self.authors:
            parts.append("also by " + ", ".join(self.authors))
        return "; ".join(parts)


def _state(conn):
    """The catalogue of the database's current state: its caches are dropped with it."""
    return catalogue(conn)


def _vocabulary(conn) -> Vocabulary:
    """Term -> (papers containing it, occurrences), read once per state of the database
    (read-only: shared by every request)."""
    return _state(conn).vocabulary.get_or(
        "terms", lambda: MappingProxyType(get_engine(conn).vocabulary(conn, 2)))


def warm() -> None:
    """Read the engine's vocabulary before the first paper page asks for related papers:
    seconds on 165k papers, longer than a request may take on a busy machine."""
    _vocabulary(reader())


_WORD = re.compile(r"[^\W_]+")   # unicode61's tokens, near enough for weighing terms
_MAX_WORDS = 500_000             # a bound on the memory of words seen; cleared when reached
# word as written -> (the index's term, its weight in a paper's vector (0 when too common to
# choose papers by), its plain idf) or None when it says nothing (a stopword, a number), for
# one state of the vocabulary: candidates' vectors are then a dictionary lookup per distinct word.
_known: tuple[object, dict[str, tuple[str, float, float] | None]] = (None, {})
_known_lock = threading.Lock()
Words = tuple[Counter, Counter]   # a paper's words as written: (title's, abstract's), counted


def _burstiness(docs: int, occurrences: int) -> float:
    """How much a term recurs in the papers that use it, as a weight: subject words
    ("gaze", "hough", "speaker") come back 1.5-3 times a paper, words of general prose
    ("indeed", "manner", "encouraging") about once. Rare terms lean towards the typical
    ratio, since a handful of papers say little."""
    ratio = (occurrences + PRIOR_RATIO * PRIOR_PAPERS) / (docs + PRIOR_PAPERS)
    return min(max(math.log2(ratio), MIN_BURST), MAX_BURST)


def _idf(docs: int, total: int) -> float:
    """BM25's inverse document frequency, never below zero (a term in half the catalogue)."""
    return max(math.log((total - docs + 0.5) / (docs + 0.5)), 0.0)


def _word_info(words, docs: Vocabulary, total: int) -> dict[str, tuple[str, float, float] | None]:
    """What each of `words` says (see `_known`), every new one analysed in one call to the engine."""
    global _known
    with _known_lock:
        if _known[0] is not docs or len(_known[1]) > _MAX_WORDS:
            _known = (docs, {})
        info = _known[1]
    unknown = [w for w in words if w not in info]
    if unknown:
        engine = get_engine()  # analyze() reads no database: the configured engine
        stems = engine.analyze(" ".join(unknown))
        if len(stems) != len(unknown):  # a word the engine splits: ask word by word
            stems = [(engine.analyze(w) or [w])[0] for w in unknown]
        most = max(MIN_CAP, int(MAX_SHARE * total))
        for word, term in zip(unknown, stems):
            df, occurrences = docs.get(term, (0, 0))
            if len(word) < 3 or word in STOPWORDS or word.isdigit() or df < 2:
                info[word] = None
                continue
            # idf <= 0: in half the catalogue; a word that never recurs in a paper is prose
            idf = _idf(df, total)
            weight = idf * _burstiness(df, occurrences) if df <= most else 0.0
            # A word too common to choose papers by still names a subject in a phrase
            # ("multimodal embedding"): its plain idf is kept for the title's phrases.
            info[word] = (term, weight, idf)
    return info


def _words(title: str, abstract: str) -> Words:
    # Counted per distinct word (C-speed Counter), so Python loops run once per word, not per token.
    return Counter(_WORD.findall(title.lower())), Counter(_WORD.findall(abstract.lower()))


_CLAUSE = re.compile(r"[.,;:!?()\[\]{}\"]|\s-\s")   # a title's phrase does not run across these


def _stem_prefix(word: str, term: str) -> str:
    """What the index's stem and the word as written begin with ("anomaly", "anomali":
    "anomal"), to find the word's other forms by a prefix."""
    n = 0
    while n < min(len(word), len(term)) and word[n] == term[n]:
        n += 1
    return word[:max(n, 3)]   # letters and digits only (_WORD): nothing to escape


Phrase = tuple[str, re.Pattern, float, str]   # first word's prefix, pattern, weight, as written


def _title_phrases(title: str, info) -> list[Phrase]:
    """The title's phrases (two adjacent words of a clause, neither a stopword): the first
    word's prefix, a pattern finding the phrase, its weight, the idf of both words, so
    a phrase of common words ("large language") weighs little and one naming a subject
    ("link prediction", "multimodal embedding") much, though its words alone are too common
    to choose papers by, and the phrase as the title writes it (heaviest first). `info`
    knows every word of the title."""
    phrases: dict[str, tuple[str, float, str]] = {}
    for clause in _CLAUSE.split(title.lower()):
        known = [(word, info.get(word)) for word in _WORD.findall(clause)]
        for (word_a, a), (word_b, b) in zip(known, known[1:]):
            if a and b and a[0] != b[0] and a[2] + b[2] >= MIN_PHRASE_IDF:
                first = _stem_prefix(word_a, a[0])
                # literal first: the regular expression engine then skips ahead to it
                phrases[rf"{first}\w*[\s-]+{_stem_prefix(word_b, b[0])}"] = (first, a[2] + b[2],
                                                                               _as_written(clause, word_a, word_b))
    found = [(first, re.compile(pattern), weight, written)
             for pattern, (first, weight, written) in phrases.items()]
    return sorted(found, key=lambda phrase: -phrase[2])


def _as_written(clause: str, word_a: str, word_b: str) -> str:
    """The two words as the clause joins them ("semi-structured", "speech language")."""
    found = re.search(rf"(?<![^\W_]){word_a}[^\w]+{word_b}(?![^\W_])", clause)
    return found.group(0) if found else f"{word_a} {word_b}"


def _shared_phrases(phrases: list[Phrase], text: str) -> tuple[float, list[str]]:
    """The share of the title's phrase weight that `text` writes as phrases too, and those
    phrases as the title writes them."""
    if not phrases:
        return 0.0, []
    text = text.lower()
    found = [phrase for phrase in phrases if phrase[0] in text and phrase[1].search(text)]
    return sum(phrase[2] for phrase in found) / sum(phrase[2] for phrase in phrases), [p[3] for p in found]


def _vector(words: Words, info) -> tuple[dict[str, float], dict[str, str]]:
    """term -> BM25-style weight for the paper's distinctive terms, and term -> a word as
    written; `info` knows every one of `words` (`_word_info`)."""
    counts: dict[str, int] = {}
    idf: dict[str, float] = {}
    surface: dict[str, str] = {}
    for weight, counted in zip((TITLE_WEIGHT, 1), words):
        for word, n in counted.items():
            known = info[word]
            if known is not None and known[1] > 0:
                term = known[0]
                counts[term] = counts.get(term, 0) + weight * n
                idf[term] = known[1]
                surface.setdefault(term, word)
    return {term: idf[term] * c * (K1 + 1) / (c + K1) for term, c in counts.items()}, surface


def _heaviest(weights: dict[str, float], surface: dict[str, str]) -> dict[str, tuple[str, float]]:
    heaviest = sorted(weights.items(), key=lambda item: (-item[1], item[0]))[:MAX_TERMS]
    return {term: (surface[term], weight) for term, weight in heaviest}


def distinctive_terms(title: str, abstract: str, conn=None) -> dict[str, tuple[str, float]]:
    """stem -> (the word as the paper writes it, its weight), heaviest first."""
    conn = conn or reader()
    words = _words(title, abstract)
    info = _word_info(words[0].keys() | words[1].keys(), _vocabulary(conn), _state(conn).total or 1)
    return _heaviest(*_vector(words, info))


def _cosine(a: dict[str, float], b: dict[str, float]) -> float:
    if len(b) < len(a):
        a, b = b, a
    dot = sum(weight * b.get(term, 0.0) for term, weight in a.items())
    norms = math.sqrt(sum(w * w for w in a.values())) * math.sqrt(sum(w * w for w in b.values()))
    return dot / norms if norms else 0.0


def _names(hit: Hit) -> dict[str, str]:
    return {" ".join(name.lower().split()): name for name in hit.authors}


def _categories(text: str | None) -> set[str]:
    return set((text or "").split())


@dataclass
class Candidate:
    """A paper sharing enough of another's distinctive terms, and the evidence of a relation."""
    id: int
    row: Mapping                    # its title, abstract and categories
    evidence: dict[str, float]      # WEIGHTS' keys -> value; the links' once they are known
    phrases: list[str]              # the title's phrases it writes too, as the title writes them
    words: tuple[str, ...]          # the distinctive terms it shares, as the paper writes them


def _weighed(evidence: Mapping[str, float]) -> float:
    """What this evidence adds to the log-odds that a candidate is judged related (BIAS aside)."""
    return sum(WEIGHTS[name] * value for name, value in evidence.items())


def content_candidates(hit: Hit, conn, limit: int = CANDIDATES) -> tuple[dict, list[Candidate]]:
    """The paper's distinctive terms (stem -> (word, weight)) and the `limit` papers sharing the
    most weight of them, with the evidence of their texts (cosine, titles, phrases, shared)."""
    state = _state(conn)
    docs, total = _vocabulary(conn), state.total or 1
    words = _words(hit.title, hit.abstract)
    my_info = _word_info(words[0].keys() | words[1].keys(), docs, total)
    mine, surface = _vector(words, my_info)
    terms = _heaviest(mine, surface)
    if not terms:
        return terms, []
    matches = get_engine(conn).similar(conn, dict(terms.values()), limit, exclude=[hit.id],
                                       min_shared=MIN_SHARED_TERMS, cache=state.postings)
    if not matches:
        return terms, []
    rarest = max(_idf(2, total), 1e-9)   # the weight of a term in two papers: the unit of shared weight
    rows = {row["id"]: row for row in papers.rows(conn, [paper_id for paper_id, _, _ in matches])}
    theirs = {paper_id: _words(row["title"], row["abstract"]) for paper_id, row in rows.items()}
    # every candidate's new words learnt in one call to the engine
    info = _word_info(set().union(*(w.keys() for pair in theirs.values() for w in pair)), docs, total)
    # (from the paper's own words learnt: the memory of words may be cleared between the calls)
    my_title = _vector((words[0], Counter()), my_info)[0]
    phrases = _title_phrases(hit.title, my_info)
    found = []
    for paper_id, weight, shared_words in matches:
        row, pair = rows[paper_id], theirs[paper_id]
        phrase_share, written = _shared_phrases(phrases, row["title"] + " . " + row["abstract"])
        evidence = {"cosine": _cosine(mine, _vector(pair, info)[0]),
                    "titles": _cosine(my_title, _vector((pair[0], Counter()), info)[0]),
                    "phrases": phrase_share,
                    "shared": math.log(max(weight, 1e-9) / rarest)}
        found.append(Candidate(paper_id, row, evidence, written, shared_words))
    return terms, found


def link_evidence(paper: PaperPage, candidate: Hit, categories: set[str]) -> tuple[dict, list[TagRef], list[str]]:
    """What the two papers share besides words: evidence, the shared topics and authors."""
    my_topics = {t.slug for t in paper.hit.tags if t.kind == "topic"}
    my_authors = _names(paper.hit)
    shared_tags = [t for t in candidate.tags if t.kind == "topic" and t.slug in my_topics]
    shared_authors = [name for key, name in _names(candidate).items() if key in my_authors]
    return ({"topics": min(len(shared_tags), 2), "author": float(bool(shared_authors)),
             "category": float(bool(categories & set(paper.categories)))}, shared_tags, shared_authors)


def related_papers(paper: PaperPage, limit: int = 6) -> list[Related]:
    """At most `limit` related papers, fewer (or none) when the rest are not likely related."""
    conn = reader()
    terms, candidates = content_candidates(paper.hit, conn)
    if not candidates:
        return []
    content = {c.id: BIAS + _weighed(c.evidence) for c in candidates}
    # The shared topics, author and category add at most MAX_LINKS: a candidate further than
    # that below the limit-th best by content, or below the least likelihood shown, cannot
    # enter, so only the others are built into full results.
    least = log_odds(FIRST_LIKELIHOOD)
    cut = max(sorted(content.values(), reverse=True)[:limit][-1], least) - MAX_LINKS
    kept = {c.id: c for c in candidates if content[c.id] >= cut}
    scored = []
    for hit in papers.hits(conn, [c.row for c in kept.values()]):
        candidate = kept[hit.id]
        links, shared_tags, shared_authors = link_evidence(paper, hit, _categories(candidate.row["categories"]))
        score = content[hit.id] + _weighed(links)   # the log-odds
        if score < least:
            continue
        # the title's phrases it writes too, then the other shared words, heaviest first
        in_phrases = {word for phrase in candidate.phrases for word in _WORD.findall(phrase)}
        shared_terms = candidate.phrases + [word for word, _ in terms.values()
                                            if word in candidate.words and word not in in_phrases]
        scored.append((score, -hit.id, Related(hit, shared_terms, shared_tags, shared_authors)))
    scored.sort(key=lambda item: item[:2], reverse=True)
    return [related for rank, (score, _, related) in enumerate(scored[:limit]) if score >= least_shown(rank)]


def log_odds(likelihood: float) -> float:
    return math.log(likelihood / (1 - likelihood))


def least_shown(rank: int) -> float:
    """The least log-odds at which the candidate ranked `rank` (from 0) is shown."""
    return log_odds(FIRST_LIKELIHOOD if rank < FIRST_SHOWN else MIN_LIKELIHOOD)
