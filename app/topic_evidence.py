"""How strong the evidence must be before a paper is tagged with a topic.

A topic's `query` finds candidate papers through the search engine; its
`[topic.evidence]` table in topics.toml then decides, by reading the title and
abstract, whether the paper is *about* the topic rather than mentioning it:

- a mention in the title is enough;
- in the abstract, a topic needs `abstract` mentions, or one mention in the
  opening or closing sentence or in a sentence stating the contribution
  ("we propose ...");
- a mention never runs across a sentence or clause break (`: ; . , ( )`), so
  "a two-stage pipeline: parallel search" is not "pipeline parallel";
- a negated mention ("without knowledge distillation", "distillation-free")
  does not count, nor one inside an exclusion (a known false friend);
- a topic that lives in one field may name it (`context`): the title or
  abstract must then also mention one of those words, so "pre-training" of a
  robot policy is not language-model pre-training;
- a mention listed beside its siblings in the abstract (`siblings`: "data,
  tensor and pipeline parallelism") names one technique among several and
  does not count there;
- a title that names another field (`elsewhere`: "text embeddings" of a
  "text-to-image" model, "music" of "dance" generation) puts the paper there,
  whatever its mentions: the topic is then a part of someone else's subject.

Term syntax, kept small so the rule stays readable: words are matched at word
boundaries, joined by spaces or hyphens, each word also in its plural; `word*`
is any word starting with `word`; `*word` any word ending in it (names such as
"DeepSeekMoE"); a lone `*` is one to three words ("mixture of * experts").
A term with a capital letter is matched case-sensitively ("*MoE" is not "shoe").

Nothing here knows the search engine: it reads text and returns the evidence.
"""

import json
import re
from dataclasses import asdict, dataclass
from functools import lru_cache

from app.orphans import end_with_parent

_GAP = r"[ \t\n\-‐‑–/]+"            # what may separate the words of a phrase: no clause break
_CLAUSE_BREAK = re.compile(r"[:;.,()\[\]!?]")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9(\"“])")
_CONTRIBUTION = re.compile(
    r"\b(?:(?:we|this (?:paper|work|study|article))\s+(?:\w+\s+){0,2}(?:propose|present|introduce|"
    r"develop|design|study|investigate|explore|analy[sz]e|address|tackle|focus|build)"
    r"|our (?:proposed |new |novel )?(?:work|paper|method|approach|framework|system))", re.IGNORECASE)
# A sentence that goes on describing what was just proposed ("It combines ...").
_CONTINUES = re.compile(r"^(?:It|They|This (?:framework|method|system|approach|design|model|technique)|"
                        r"Our (?:framework|method|system|approach|design))\s+(?!is\s+(?:not|un))", re.IGNORECASE)
# A mention preceded in its clause by one of these (within a few words) is negated.
_NEGATION = re.compile(
    r"\b(?:without|not|no|never|w/o|instead of|rather than|eliminat\w*|avoid\w*|bypass\w*|"
    r"obviat\w*|free of|unlike|dispens\w* with|beyond)\b(?:\W+\w+){0,3}\W*$", re.IGNORECASE)
_FREE_AFTER = re.compile(r"^[\-‐‑ ]?free\b", re.IGNORECASE)


@dataclass(frozen=True)
class Evidence:
    """The evidence a topic needs; `None` from `parse` means the query alone decides."""
    terms: tuple[str, ...]
    exclude: tuple[str, ...] = ()
    title: bool = True          # one mention in the title is enough
    # ... with this many mentions in the abstract besides (a broad word in a title is often
    # the setting, "... for Music Queries", and the abstract never comes back to it)
    title_support: int = 0
    abstract: int = 2           # mentions in the abstract that are enough (0: the abstract never is)
    lead: bool = True           # one mention in the opening, closing or contribution sentence is
    # With lead off, one mention in a sentence stating the contribution may still be enough.
    contribution: bool = False
    strong: tuple[str, ...] = ()  # phrases so specific that one mention anywhere is enough
    # The field the topic lives in: when given, the title or abstract must mention one of these too.
    context: tuple[str, ...] = ()
    # Words naming the topic's siblings: an abstract mention coordinated with one is one item of a list.
    siblings: tuple[str, ...] = ()
    # Words of a title that put the paper in another field, where the topic is only a part.
    elsewhere: tuple[str, ...] = ()

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))


def parse(data: dict | None) -> Evidence | None:
    """Validate a `[topic.evidence]` table (raises ValueError on a mistake)."""
    if not data:
        return None
    unknown = set(data) - {"terms", "exclude", "title", "abstract", "lead", "contribution", "strong", "context", "siblings", "title_support",
                          "elsewhere"}
    if unknown:
        raise ValueError(f"unknown evidence keys: {', '.join(sorted(unknown))}")
    terms = tuple(" ".join(str(t).split()) for t in data.get("terms", ()))
    exclude = tuple(" ".join(str(t).split()) for t in data.get("exclude", ()))
    strong = tuple(" ".join(str(t).split()) for t in data.get("strong", ()))
    context = tuple(" ".join(str(t).split()) for t in data.get("context", ()))
    siblings = tuple(" ".join(str(t).split()) for t in data.get("siblings", ()))
    elsewhere = tuple(" ".join(str(t).split()) for t in data.get("elsewhere", ()))
    if not terms or not all(terms) or not all(exclude) or not all(context + siblings + elsewhere):
        raise ValueError("evidence needs a non-empty list of terms")
    abstract = int(data.get("abstract", 2))
    if abstract < 0 or int(data.get("title_support", 0)) < 0:
        raise ValueError("evidence abstract count must be 0 or more")
    _compile(terms + exclude + strong + context + siblings + elsewhere)  # fails early on a term that cannot be read
    return Evidence(terms, exclude, bool(data.get("title", True)), int(data.get("title_support", 0)), abstract,
                    bool(data.get("lead", True)), bool(data.get("contribution", False)), strong, context, siblings,
                    elsewhere)


def from_json(text: str | None) -> Evidence | None:
    return parse(json.loads(text)) if text else None


def _body(term: str) -> str:
    parts = []
    for word in term.split():
        if word == "*":
            parts.append(r"\w+(?:" + _GAP + r"\w+){0,2}")
        elif word.startswith("*"):
            parts.append(r"\w*" + re.escape(word[1:]) + r"(?:s|es)?(?!\w)")
        elif word.endswith("*"):
            parts.append(re.escape(word[:-1]) + r"\w*")
        else:
            parts.append(re.escape(word) + r"(?:s|es)?(?!\w)")
    body = _GAP.join(parts)
    return body if any(c.isupper() for c in term) else f"(?i:{body})"


# -- finding terms in a text -----------------------------------------------------------------
#
# Python's regex alternation tries every term at every position of an abstract (hundreds of
# microseconds each). Instead, terms are grouped by their first word (the anchor), found with
# str.find, and the group's terms are tried only there. A short anchor ("the", "on", "a", "4")
# is everywhere, and the loop would visit each of its occurrences: such a group is first
# probed for a longer word each of its terms needs ("the pathology of": "pathology"), and
# skipped when none is in the text.

# Under re.IGNORECASE an ASCII letter also matches these, which lower-case to themselves:
# in a text that has one, a term may be there without its words in the lower-cased text.
_FOLDS_TO_ASCII = ("\u0131", "\u017f")  # dotless i, long s
_SHORT_ANCHOR = 4


class _Group:
    """Terms sharing a first word: found at the anchor, tried longest first as one alternation
    (the first that matches is the mention). The regex is compiled when first needed."""
    __slots__ = ("anchor", "suffix", "terms", "probes", "_pattern")

    def __init__(self, anchor: str, suffix: bool, terms: list[str]):
        self.anchor, self.suffix, self._pattern = anchor, suffix, None
        self.terms = tuple(sorted(terms, key=len, reverse=True))
        self.probes = _probes(anchor, self.terms) if len(anchor) <= _SHORT_ANCHOR else None

    @property
    def pattern(self) -> re.Pattern:
        if self._pattern is None:
            self._pattern = re.compile("|".join(f"(?:{_body(t)})" for t in self.terms))
        return self._pattern


def _probes(anchor: str, terms: tuple[str, ...]) -> tuple[str, ...] | None:
    """Words, one of which the lower-cased text holds wherever one of the terms matches: each
    term's longest literal (an ASCII word, `*` aside); None when one is no longer than the anchor."""
    longest = []
    for term in terms:
        words = [w.strip("*").lower() for w in term.split() if w != "*" and w.strip("*").isascii()]
        word = max(words, key=len, default="")
        if len(word) <= len(anchor):
            return None
        longest.append(word)
    # A word containing another is implied by it: only the others need looking for.
    return tuple(sorted({w for w in longest if not any(o != w and o in w for o in longest)}))


class _Terms:
    """A tuple of terms ready to be looked for, grouped by anchor."""
    __slots__ = ("groups",)

    def __init__(self, terms: tuple[str, ...]):
        grouped: dict[tuple[str, bool], list[str]] = {}
        for term in terms:
            first = term.split()[0]
            if first == "*":
                raise ValueError(f"term {term!r} cannot start with a lone *")
            grouped.setdefault((first.strip("*").lower(), first.startswith("*")), []).append(term)
        self.groups = tuple(_Group(anchor, suffix, ts) for (anchor, suffix), ts in grouped.items())


@lru_cache(maxsize=256)
def _compile(terms: tuple[str, ...]) -> _Terms:
    return _Terms(terms)


class _Text:
    """A title or abstract read once for every rule that looks at it: lower-cased with its
    positions kept, and whether a probe word missing from it rules a term out."""
    __slots__ = ("text", "lower", "probed")

    def __init__(self, text: str):
        self.text = text
        lower = text.lower()
        if len(lower) != len(text):  # a few characters change length when lower-cased
            lower = "".join(c.lower()[0] for c in text)
        self.lower = lower
        self.probed = text.isascii() or not any(c in text for c in _FOLDS_TO_ASCII)


def _find(text: _Text, terms: tuple[str, ...]) -> list[tuple[int, int]]:
    """Spans of the terms in `text`, leftmost-longest, not overlapping."""
    raw, lower, probed = text.text, text.lower, text.probed
    found = []
    for group in _compile(terms).groups:
        anchor, suffix = group.anchor, group.suffix
        at = lower.find(anchor)
        if at >= 0 and probed and group.probes and not any(word in lower for word in group.probes):
            continue
        while at >= 0:
            start = at
            if suffix:  # back to the start of the name that ends here
                while start and (raw[start - 1].isalnum() or raw[start - 1] == "_"):
                    start -= 1
            if not (start and (raw[start - 1].isalnum() or raw[start - 1] == "_")):
                m = group.pattern.match(raw, start)
                if m:
                    found.append((start, m.end()))
            at = lower.find(anchor, at + 1)
    found.sort(key=lambda span: (span[0], -span[1]))
    spans: list[tuple[int, int]] = []
    for start, end in found:
        if not spans or start >= spans[-1][1]:
            spans.append((start, end))
    return spans


def mentions(text: str, terms: tuple[str, ...], exclude: tuple[str, ...] = ()) -> list[tuple[int, int]]:
    """Spans of the terms in `text` that count: not negated, not inside an exclusion."""
    return _mentions(_Text(text), terms, exclude) if text else []


def _mentions(text: _Text, terms: tuple[str, ...], exclude: tuple[str, ...]) -> list[tuple[int, int]]:
    found = _find(text, terms)
    if not found:  # the common case, read without looking for the exclusions at all
        return []
    excluded = _find(text, exclude) if exclude else []
    raw = text.text
    spans: list[tuple[int, int]] = []
    for start, end in found:
        if any(s < end and start < e for s, e in excluded):
            continue
        clause = _CLAUSE_BREAK.split(raw[max(0, start - 60):start])[-1]
        if _NEGATION.search(clause) or _FREE_AFTER.match(raw[end:end + 6]):
            continue
        spans.append((start, end))
    return spans


_JOIN = r"(?:\s*,\s*(?:and\s+|or\s+)?|\s+(?:and|or|as well as)\s+|\s*[/&]\s*)"


@lru_cache(maxsize=64)
def _listing(siblings: tuple[str, ...]) -> tuple[re.Pattern, re.Pattern]:
    """A sibling joined to what follows ("data and ", "inter-operator/") and to what precedes."""
    names = "|".join(_body(t) for t in sorted(siblings, key=len, reverse=True))
    return (re.compile(rf"(?<!\w)(?:{names})(?:{_GAP}parallel\w*)?{_JOIN}$"),
            re.compile(rf"^{_JOIN}(?:{names})(?!\w)"))


def listed(text: str, span: tuple[int, int], siblings: tuple[str, ...]) -> bool:
    """Whether the mention at `span` stands in a list beside one of its siblings."""
    if not siblings:
        return False
    before, after = _listing(siblings)
    return bool(before.search(text[max(0, span[0] - 60):span[0]]) or after.match(text[span[1]:span[1] + 60]))


def sentences(text: str) -> list[tuple[int, int]]:
    out, start = [], 0
    for m in _SENTENCE_END.finditer(text):
        out.append((start, m.start()))
        start = m.end()
    out.append((start, len(text)))
    return [(s, e) for s, e in out if text[s:e].strip()]


class _Paper:
    """One paper as every rule reads it: its title and abstract read once, and the abstract's
    sentences (the contribution's, then the opening and closing one) found once when needed."""
    __slots__ = ("title", "abstract", "_leads")

    def __init__(self, title: str, abstract: str):
        self.title, self.abstract, self._leads = _Text(title), _Text(abstract), None

    def leads(self) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        """(sentences stating the contribution, [opening, closing]) of a non-empty abstract."""
        if self._leads is None:
            abstract = self.abstract.text
            parts = sentences(abstract)
            stated = [p for i, p in enumerate(parts) if _CONTRIBUTION.search(abstract[p[0]:p[1]])
                      or (i and _CONTRIBUTION.search(abstract[parts[i - 1][0]:parts[i - 1][1]])
                          and _CONTINUES.match(abstract[p[0]:p[1]]))]
            self._leads = (stated, [parts[0], parts[-1]])
        return self._leads


def judge(title: str, abstract: str, evidence: Evidence) -> list[str]:
    """The mentions (as written) that make the paper about the topic; empty when too weak."""
    return _judge(_Paper(title or "", abstract or ""), evidence)


def _judge(paper: _Paper, evidence: Evidence, words: bool = True) -> list[str]:
    """`judge` of a paper read once; `words` False: only whether it is about the topic (a
    non-empty list), which a title that is enough on its own decides without the abstract."""
    title, abstract = paper.title, paper.abstract
    if evidence.elsewhere and _find(title, evidence.elsewhere):
        return []
    terms = evidence.terms + evidence.strong
    in_title = _mentions(title, terms, evidence.exclude) if title.text else []
    if not words and in_title and evidence.title and not evidence.title_support:
        strong, in_abstract = True, []
    else:
        in_abstract = [span for span in (_mentions(abstract, terms, evidence.exclude) if abstract.text else [])
                       if not listed(abstract.text, span, evidence.siblings)]
        strong = evidence.title and bool(in_title) and len(in_abstract) >= evidence.title_support
    if not strong and evidence.strong and abstract.text:
        strong = bool(_mentions(abstract, evidence.strong, evidence.exclude))
    if not strong and evidence.abstract and len(in_abstract) >= evidence.abstract:
        strong = True
    if not strong and (evidence.lead or evidence.contribution) and in_abstract:
        stated, ends = paper.leads()
        leads = stated + ends if evidence.lead else stated
        strong = any(s <= start < e for start, _ in in_abstract for s, e in leads)
    if strong and evidence.context:  # the field must be there too (negated or not: it is the setting)
        strong = bool(_find(title, evidence.context) or _find(abstract, evidence.context))
    if not strong:
        return []
    found: list[str] = []
    for text, spans in ((title.text, in_title), (abstract.text, in_abstract)):
        for s, e in spans:
            word = " ".join(text[s:e].split())
            if word.lower() not in (f.lower() for f in found):
                found.append(word)
    return found


def describe(evidence: Evidence) -> str:
    """The rule in words, after "Tagged when" on the tag page (a * reads as …)."""
    def said(words):
        return ", ".join(f"“{t.replace('*', '…')}”" for t in words)
    terms = said(evidence.terms)
    ways = []
    if evidence.title:
        support = evidence.title_support
        ways.append(f"the title mentions {terms}" + (
            f" and the abstract {'once' if support == 1 else f'{support} times'} too" if support else ""))
    if evidence.abstract:
        times = "once" if evidence.abstract == 1 else f"{evidence.abstract} times"
        ways.append(f"the abstract mentions {'them' if ways else terms} {times}")
    if evidence.lead:
        ways.append("the abstract's opening, closing or contribution sentence (“we propose …”) mentions one")
    elif evidence.contribution:
        ways.append("the sentence stating the contribution (“we propose …”) mentions one")
    if evidence.strong:
        ways.append(f"the abstract mentions {said(evidence.strong)} anywhere")
    text = "; or ".join(ways) if ways else f"the abstract mentions {terms}"
    if evidence.siblings:
        text += f"; a mention in the abstract listed beside {said(evidence.siblings)} does not count"
    if evidence.context:
        text += f"; in each case the title or abstract also mentions one of {said(evidence.context)}"
    if evidence.elsewhere:
        text += f"; never when the title names another field: {said(evidence.elsewhere)}"
    text += ". A mention never runs across punctuation, and a negated one (“without …”) does not count"
    if evidence.exclude:
        text += f", nor one inside {said(evidence.exclude)}"
    return text


# -- judging many candidates at once (a retag), in worker processes ---------------------------

_RULES: tuple[Evidence, ...] = ()


def use_rules(rules: tuple[Evidence, ...]) -> None:
    """A worker's rules, set once when it starts (they travel once, not with every batch)."""
    global _RULES
    _RULES = rules


def start_judge(rules: tuple[Evidence, ...], parent: int) -> None:
    """A judging worker's start: its rules, and its end when the process that started it ends."""
    end_with_parent(parent)
    use_rules(rules)


def warm() -> None:
    """Compile the regexes of the worker's rules now (about a second), before papers arrive."""
    for rule in _RULES:
        for terms in (rule.terms + rule.strong, rule.strong, rule.exclude, rule.context, rule.elsewhere):
            for group in _compile(terms).groups if terms else ():
                group.pattern  # noqa: B018 - compiled on first access


def judge_papers(papers: list[tuple[int, str, str, tuple[int, ...]]]) -> list[tuple[int, int]]:
    """(paper id, rule index) of each candidate pair whose paper is about the rule's topic.

    `papers`: (id, title, abstract, indexes into the rules of `use_rules`). One paper's
    title and abstract are read for all of its candidate topics at once.
    """
    rules = _RULES
    kept = []
    for paper_id, title, abstract, indexes in papers:
        paper = _Paper(title or "", abstract or "")
        kept += [(paper_id, i) for i in indexes if _judge(paper, rules[i], words=False)]
    return kept
