"""Related papers: those sharing a paper's most distinctive terms and its topics, with the reason.

The terms are the words of the title and abstract that are rarest in the catalogue
(by the FTS vocabulary's document counts) yet shared with at least one other paper;
one OR query over them through `search.run` ranks the candidates.
"""

import math
from collections import Counter
from dataclasses import dataclass, field

from whoosh.lang.porter import stem

from app import search
from app.db import reader
from app import papers
from app.papers import PaperPage
from app.engine import get_engine
from app.results import Hit, SearchParams, TagRef
from app.search.query import fts_tokens

MAX_TERMS = 8
CANDIDATES = 30
MIN_SHARED_TERMS = 2  # one shared word is a coincidence, not a relation
TITLE_WEIGHT = 3
TAG_WEIGHT = 2.0

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

    @property
    def reason(self) -> str:
        parts = []
        if self.terms:
            parts.append("shares " + ", ".join(self.terms))
        if self.tags:
            parts.append("also in " + ", ".join(t.name for t in self.tags))
        return "; ".join(parts)


def distinctive_terms(title: str, abstract: str) -> dict[str, str]:
    """stem -> the word as the paper writes it, for the paper's most distinctive shared terms."""
    weights: Counter[str] = Counter()
    surface: dict[str, str] = {}
    for weight, text in ((TITLE_WEIGHT, title), (1, abstract)):
        for token in fts_tokens(text):
            if len(token) < 3 or token in STOPWORDS or token.isdigit():
                continue
            stemmed = stem(token)
            weights[stemmed] += weight
            surface.setdefault(stemmed, token)
    if not weights:
        return {}
    conn = reader()
    total = papers.paper_count() or 1
    stems = list(weights)
    docs = get_engine(conn).document_frequencies(conn, stems)
    scored = [(weights[s] * math.log(total / docs[s]), s) for s in stems if docs.get(s, 0) >= 2]
    scored.sort(reverse=True)
    return {s: surface[s] for _, s in scored[:MAX_TERMS]}


def _term_hits(words: list[str], exclude_id: int) -> list[Hit]:
    params = SearchParams(q=" OR ".join(words), sort="relevance", per_page=CANDIDATES + 1)
    return [h for h in search.run(params).hits if h.id != exclude_id][:CANDIDATES]


def related_papers(paper: PaperPage, limit: int = 6) -> list[Related]:
    hit = paper.hit
    terms = distinctive_terms(hit.title, hit.abstract)
    my_topics = {t.slug: t for t in hit.tags if t.kind == "topic"}
    candidates = (_term_hits(list(terms.values()), hit.id) if terms else []) + papers.tag_neighbours(hit.id, CANDIDATES)
    scored: dict[int, tuple[float, Related]] = {}
    for position, candidate in enumerate(candidates):
        if candidate.id == hit.id or candidate.id in scored:
            continue
        their_stems = {stem(t) for t in fts_tokens(candidate.title + " " + candidate.abstract)}
        shared_terms = [word for s, word in terms.items() if s in their_stems]
        shared_tags = [t for t in candidate.tags if t.slug in my_topics]
        if len(shared_terms) < MIN_SHARED_TERMS and not shared_tags:
            continue
        score = len(shared_terms) + TAG_WEIGHT * len(shared_tags) - position / (2 * CANDIDATES)
        scored[candidate.id] = (score, Related(candidate, shared_terms, shared_tags))
    ranked = sorted(scored.values(), key=lambda pair: pair[0], reverse=True)
    return [related for _, related in ranked[:limit]]
