"""Did you mean: a corrected query, built from the catalogue's own vocabulary.

Two vocabularies, because the index stores Porter stems ("distillation" and the
misspelt "distilation" are both "distil" in it):
- the engine's vocabulary gives each stem's document count, so a
  word whose stem is unknown or rare is suspect. Words are stemmed by the engine's own
  analysis (`analyze`): a Porter stemmer in Python disagrees with SQLite's on doubled
  consonants ("splatting": splatt / splat), and a right correction was then counted in no paper;
- surface words with their frequencies (every title, plus a sample of abstracts,
  read once per catalogue through the read layer, app/paper_sets.py) feed a whoosh `ListCorrector`, whose Levenshtein
  automaton finds candidates within two edits; the most frequent nearby word wins.
  Words searched in `author:` are corrected from the words of author names alone.

A word written often enough in titles and sampled abstracts is taken as meant.
Another is replaced by a nearby word whose stem is far more common ("paralelism",
"transfomer"), or, when both share a stem, by the usual spelling if no paper writes
it as typed ("distilation"). A stem found in several papers is a word of the field:
only a one-edit neighbour fifty times as common replaces it, and short words get
one edit only ("gpipe" is not "guide"). A word typed with a capital past its first
letter ("GPipe", "SketchDNN") is a name and is never corrected. Results are cached per word.
"""

import math
import re
import threading
from collections import Counter
from dataclasses import dataclass

from whoosh.spelling import ListCorrector

from app import paper_sets
from app.engine import get_engine
from app.plan import Words
from app.search.catalogue import Memo

MIN_LENGTH = 4            # shorter words are mostly abbreviations: leave them alone
MAX_WORDS = 8             # words of one query checked (a pasted paragraph is not a typo)
MIN_CANDIDATE_FREQ = 3    # a correction must itself be a word people write (fewer in small catalogues)
ESTABLISHED_DOCS = 5      # a stem in this many papers is a word of the field, not a typo
RARITY_RATIO = 10         # how much more common a correction's stem must be than a rare word's
STRONG_RATIO = 50         # ... than an established word's
LONG_WORD = 6             # two edits are considered from this length on
DISTANCE_PENALTY = 2.5    # in log-frequency units per edit
ABSTRACT_SAMPLE = 3000    # abstracts read for surface words (all titles are read)
SURFACE_CHECKS = 200      # papers looked at to see whether a word is written as typed
CACHE_SIZE = 512

_WORD = re.compile(r"[a-z]+")
_NAME_WORD = re.compile(r"\w+")  # "müller" is one word of a name, never "m" and "ller"


class _Corrector(ListCorrector):
    """A ListCorrector that prefers frequent words: score = log frequency - penalty x distance."""

    def __init__(self, frequencies: Counter):
        super().__init__(sorted(frequencies))
        self.frequencies = frequencies

    def _suggestions(self, text, maxdist, prefix):
        for negative_distance, word in super()._suggestions(text, maxdist, prefix):
            yield math.log1p(self.frequencies[word]) + DISTANCE_PENALTY * negative_distance, word


@dataclass
class _Vocabulary:
    papers: int
    frequencies: Counter    # surface word -> occurrences in titles and sampled abstracts
    least: int              # occurrences that make a word "written"; corrections need as many
    corrector: _Corrector   # over those words only: the rarer ones are no corrections, and skipping
                            # them makes the automaton walk three times shorter


_vocabularies: dict[tuple[str, bool], _Vocabulary] = {}
_lock = threading.Lock()
_cache = Memo(CACHE_SIZE)   # (catalogue signature, word, of authors) -> correction or None


def _vocabulary(conn, cat, authors: bool = False) -> _Vocabulary:
    """Surface words of the catalogue (of its author names, with `authors`); rebuilt when the
    catalogue grew or shrank by 5%."""
    key = (str(cat.signature[0]), authors)
    papers = cat.total
    current = _vocabularies.get(key)
    if current is None or abs(current.papers - papers) > 0.05 * max(current.papers, 1):
        with _lock:
            current = _vocabularies.get(key)
            if current is None or abs(current.papers - papers) > 0.05 * max(current.papers, 1):
                current = _build(conn, papers, authors)
                for old in [k for k in _vocabularies if k[1] == authors]:
                    del _vocabularies[old]
                _vocabularies[key] = current
    return current


def _build(conn, papers: int, authors: bool = False) -> _Vocabulary:
    frequencies: Counter = Counter()
    if authors:  # every paper's byline: a name counts once per paper it signs
        frequencies.update(w for w in _NAME_WORD.findall(paper_sets.author_names(conn).lower())
                           if w.isascii() and w.isalpha())
    else:
        frequencies.update(w for w in paper_sets.title_words(conn).split() if w.isascii() and w.isalpha())
        abstracts = paper_sets.abstract_sample(conn, max(1, papers // ABSTRACT_SAMPLE))
        frequencies.update(_WORD.findall(abstracts.lower()))
    least = min(MIN_CANDIDATE_FREQ, 1 + papers // 1000)  # a small catalogue writes words once or twice
    common = Counter({w: n for w, n in frequencies.items() if n >= least})
    return _Vocabulary(papers, frequencies, least, _Corrector(common))


def frequent_words(conn, cat, count: int) -> list[str]:
    """The catalogue's most written words (titles and sampled abstracts), most frequent first."""
    return [word for word, _ in _vocabulary(conn, cat).frequencies.most_common(count)]


def _stem_docs(conn, stems: set[str]) -> dict[str, int]:
    return get_engine(conn).document_frequencies(conn, stems) if stems else {}


def _stems(conn, words: list[str]) -> dict[str, str]:
    """Each word's form in the index, by the engine's own analysis."""
    engine = get_engine(conn)
    words = list(dict.fromkeys(words))
    stems = engine.analyze(" ".join(words))
    if len(stems) != len(words):  # a word the index splits or drops: one at a time
        stems = [" ".join(engine.analyze(word)) for word in words]
    return dict(zip(words, stems))


def _written_as_typed(conn, word: str) -> bool:
    """Whether one of the first papers matching the word's stem spells it exactly so."""
    return get_engine(conn).written_as_typed(conn, word, SURFACE_CHECKS)


def correct(conn, cat, word: str, authors: bool = False) -> str | None:
    """A better spelling of one lower-case word (of an author's name, with `authors`), or None."""
    return _cache.get_or((cat.signature, word, authors),
                         lambda: _correct(conn, _vocabulary(conn, cat, authors), word))


def _correct(conn, vocabulary: _Vocabulary, word: str) -> str | None:
    if vocabulary.frequencies.get(word, 0) >= vocabulary.least or not vocabulary.corrector.wordlist:
        return None  # people write it: taken as meant (or there is nothing to suggest)
    own = _stems(conn, [word])[word]
    own_docs = _stem_docs(conn, {own}).get(own, 0)
    # A stem found in several papers is a real word of the field ("deepspeed"): only a
    # one-edit neighbour far more common may replace it. A short word gets one edit too:
    # two edits turn "gpipe" into "guide".
    established = own_docs >= ESTABLISHED_DOCS
    ratio = STRONG_RATIO if established else RARITY_RATIO
    for distance in (1, 2) if not established and len(word) >= LONG_WORD else (1,):
        candidates = set(vocabulary.corrector.suggest(word, limit=5, maxdist=distance, prefix=1))
        if distance == 1:  # Levenshtein counts a swap ("langauge") as two edits; people make it as one
            candidates |= {s for s in _swaps(word) if vocabulary.corrector.frequencies.get(s)}
        candidates.discard(word)
        candidates = sorted(candidates, key=lambda c: -vocabulary.frequencies[c])
        stems = _stems(conn, candidates) if candidates else {}
        docs = _stem_docs(conn, set(stems.values()))
        for candidate in candidates:
            theirs = stems[candidate]
            if theirs == own:  # "distilation": the index cannot tell, the spelling can
                if not _written_as_typed(conn, word):
                    return candidate
            elif docs.get(theirs, 0) > 0 and docs.get(theirs, 0) >= ratio * own_docs:
                return candidate
    return None


def _swaps(word: str) -> set[str]:
    return {word[:i] + word[i + 1] + word[i] + word[i + 2:] for i in range(len(word) - 1)}


def suggest(conn, cat, compiled) -> str | None:
    """The query with its misspelt words corrected, or None when nothing needs correcting."""
    text = compiled.text
    searched = dict(compiled.leaves)  # each term's text node: which columns it is searched in
    words = [(w, _of_authors(searched.get(term))) for term in compiled.terms for w in term.split()
             if len(w) >= MIN_LENGTH and w.isascii() and w.isalpha()
             and not re.search(rf"(?i)\b{re.escape(w)}\*", text)  # a prefix search is no word
             and not _named(text, w)]
    corrected = text
    for word, authors in list(dict.fromkeys(words))[:MAX_WORDS]:
        better = correct(conn, cat, word, authors)
        if better:
            corrected = _replace_word(corrected, word, better)
    return corrected if corrected != text else None


def _of_authors(node) -> bool:
    """Whether a term is searched in author names alone (author:): corrected from them alone."""
    return isinstance(node, Words) and node.columns == ("authors",)


def _named(text: str, word: str) -> bool:
    """Whether the word is typed with a capital past its first letter ("GPipe", "SketchDNN",
    "LoRA"): a name or an acronym written on purpose, never a slip to correct."""
    return any(found[1:] != found[1:].lower()
               for found in re.findall(rf"(?i)(?<![a-z0-9]){re.escape(word)}(?![a-z0-9])", text))


def _replace_word(text: str, word: str, better: str) -> str:
    def repl(m: re.Match) -> str:
        found = m.group(0)
        if found.isupper() and len(found) > 1:
            return better.upper()
        return better.capitalize() if found[0].isupper() else better
    return re.sub(rf"(?i)(?<![a-z0-9]){re.escape(word)}(?![a-z0-9])", repl, text)
