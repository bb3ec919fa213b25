"""Related papers by content: "more like this" over the whole catalogue, with the reason.

A paper's most distinctive terms are the words of its title and abstract weighted as
BM25 weighs a query: the inverse document frequency of the term in the catalogue
(from the engine's vocabulary) times the saturated count of the term in the paper,
a title word counting three times. The twelve heaviest terms that other papers share
(found in 2 papers to 1.5% of them: rarer is this paper alone, commoner costs time and says
little) go to the engine's `similar`, which scores every paper containing any of them,
of any date. The best candidates are then boosted by shared topics and authors, and
each carries its reason: the shared terms, topics and authors.
"""

import math
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
from app.search.query import fts_tokens
from app.settings import get_settings

MAX_TERMS = 12
MAX_SHARE = 0.05           # a term in more papers than this share is not distinctive
MIN_CAP = 50               # ... unless the catalogue is so small that the share says nothing
TITLE_WEIGHT = 3
K1 = 1.2                   # BM25's term-frequency saturation
CANDIDATES = 40            # content matches considered before boosting
MIN_SHARED_TERMS = 2       # one shared word is a coincidence, not a relation
TOPIC_BOOST = 0.15         # per shared topic (at most two), against a best content score of 1
AUTHOR_BOOST = 0.2         # once, for any shared author

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


def _vocabulary(conn) -> Mapping[str, int]:
    """Term -> papers containing it, read once per state of the database (read-only: shared)."""
    return catalogue(conn, get_settings().database_path).vocabulary.get_or(
        "terms", lambda: MappingProxyType(get_engine().vocabulary(conn, 2)))


def distinctive_terms(title: str, abstract: str, conn=None) -> dict[str, tuple[str, float]]:
    """stem -> (the word as the paper writes it, its weight), heaviest first."""
    counts: Counter[str] = Counter()
    surface: dict[str, str] = {}
    engine = get_engine()
    for weight, text in ((TITLE_WEIGHT, title), (1, abstract)):
        tokens, terms = fts_tokens(text), engine.analyze(text)
        if len(tokens) != len(terms):  # the two tokenizers disagree: the engine's terms stand
            tokens = terms
        for token, term in zip(tokens, terms):
            if len(token) < 3 or token in STOPWORDS or token.isdigit():
                continue
            counts[term] += weight
            surface.setdefault(term, token)
    if not counts:
        return {}
    conn = conn or reader()
    docs = _vocabulary(conn)
    total = papers.paper_count() or 1
    most = max(MIN_CAP, int(MAX_SHARE * total))
    scored = []
    for s, count in counts.items():
        df = docs.get(s, 0)
        if 2 <= df <= most:
            idf = math.log((total - df + 0.5) / (df + 0.5))
            if idf <= 0:  # in half the catalogue or more: says nothing
                continue
            scored.append((idf * count * (K1 + 1) / (count + K1), s))
    scored.sort(reverse=True)
    return {s: (surface[s], weight) for weight, s in scored[:MAX_TERMS]}


def _names(hit: Hit) -> dict[str, str]:
    return {" ".join(name.lower().split()): name for name in hit.authors}


def related_papers(paper: PaperPage, limit: int = 6) -> list[Related]:
    hit = paper.hit
    conn = reader()
    terms = distinctive_terms(hit.title, hit.abstract, conn)
    if not terms:
        return []
    matches = get_engine().similar(conn, dict(terms.values()), CANDIDATES, exclude=[hit.id],
                                   min_shared=MIN_SHARED_TERMS)
    if not matches:
        return []
    best = matches[0][1] or 1.0
    content = {paper_id: (score, words) for paper_id, score, words in matches}
    my_topics = {t.slug for t in hit.tags if t.kind == "topic"}
    my_authors = _names(hit)
    scored = []
    for candidate in papers.hits_by_ids([paper_id for paper_id, _, _ in matches]):
        score, words = content[candidate.id]
        shared_tags = [t for t in candidate.tags if t.kind == "topic" and t.slug in my_topics]
        shared_authors = [name for key, name in _names(candidate).items() if key in my_authors]
        score = score / best + TOPIC_BOOST * min(len(shared_tags), 2) + (AUTHOR_BOOST if shared_authors else 0.0)
        shared_terms = [word for word, _ in terms.values() if word in words]  # heaviest first
        scored.append((score, -candidate.id, Related(candidate, shared_terms, shared_tags, shared_authors)))
    scored.sort(key=lambda item: item[:2], reverse=True)
    return [related for _, _, related in scored[:limit]]
