"""The cost model of a query, checked before any work starts.

Two kinds of bound. What the query says (query.py checks them while compiling, from
the text and the plan alone): operators, nesting, words, OR width, prefixes, text
conditions mixed with fields. And what the index says (`check`, with the catalogue at
hand): how many words each prefix stands for, and how many postings the engine would
have to read and score for the words not scored before. Each bound is named, so the API
can say which one a query went past (422) and the page can say it in words; nothing
past a bound is searched, so no query can hold a worker for long. The time limit of a
request (app/db.py `time_limit`, checked between steps in Python too) is the second line.

Measured on the 165k catalogue (bench/README.md): scoring costs about 4-8 us of CPU a paper
scored, while reading a posting list costs a small fraction of that. So the bound is on the
papers a query makes the engine score, estimated from document counts (an AND scores at most
its rarest part's papers, an OR the sum of its sides'), not on the postings it reads: a
title-like AND of common words ("evaluating reasoning in multimodal") reads 250,000 postings
and scores 3,000 papers in tens of milliseconds. A lone word or phrase is always answered:
it is scored once per catalogue state and cached, so its cost (at most every paper) is paid
once, as the start-up warm-up pays it for the most frequent words. Prefixes are bounded by
their expansions and their postings because the engine re-walks every expanded term.
"""

from collections.abc import Iterator

from app.plan import AllOf, And, AnyOf, Filter, Matches, Not, Or, PaperId, Published, Tag, TagPrefix, Text, Words, Years

# What a query may say (query.py checks these while compiling). People write a handful of
# each; together with the index bounds below they keep any query under a second.
MAX_OPERATORS = 24            # AND, OR, NOT, ANDNOT, ANDMAYBE, REQUIRE and -word, as written
# Groups within groups; FTS5's expression parser overflows its stack near 50, people use two or
# three. A chain of binary operators ("a ANDNOT b ANDNOT c") is one level, like a list of words.
MAX_NESTING = 12
PLAN_LIMITS = {
    "max_leaves": 64,         # words, phrases, prefixes and field conditions (a pasted title fits)
    "max_alternatives": 24,   # sides of every OR, added up
    "max_prefixes": 8,        # prefix* searches
    "max_text_filters": 8,    # word searches under an OR or NOT mixed with field conditions
    "max_tag_prefixes": 4,    # tag:prefix* conditions
}
# What the index says (`check`).
MAX_PREFIX_TERMS = 1000       # index terms one prefix may stand for ("pro*": 1,184 on 165k papers)
MAX_PREFIX_POSTINGS = 150_000  # postings of the prefixes not scored before (every expanded term walked)
MAX_POSTINGS = 5_000_000      # postings read for the words not scored before (a fast merge)
MAX_SCORED = 300_000          # papers scored for a query not assembled from scored words (~1-2 s CPU)


class Refused(Exception):
    """A query past a bound of the cost model: `limit` names the bound, the message says it in words."""

    def __init__(self, limit: str, message: str):
        super().__init__(message)
        self.limit = limit
        self.message = message


# --- what the plan says ---------------------------------------------------------------

def text_leaves(text: Text | None) -> Iterator[Words]:
    """Every Words node of a text tree, excluded ones included."""
    if text is None:
        return
    if isinstance(text, Words):
        yield text
        return
    for part in text.parts:
        yield from text_leaves(part)
    for part in getattr(text, "excluded", ()):
        yield from text_leaves(part)


def filter_nodes(node: Filter | None) -> Iterator[Filter]:
    """Every node of a filter tree, depth first."""
    if node is None:
        return
    yield node
    if isinstance(node, Not):
        yield from filter_nodes(node.node)
    elif isinstance(node, (And, Or)):
        for child in node.nodes:
            yield from filter_nodes(child)


def _alternatives(text: Text | None) -> int:
    if text is None or isinstance(text, Words):
        return 0
    own = len(text.parts) if isinstance(text, AnyOf) else 0
    return own + sum(_alternatives(p) for p in (*text.parts, *getattr(text, "excluded", ())))


def all_text(match: Text | None, where: Filter | None) -> list[Text]:
    """The ranked text and every text inside the filter."""
    texts = [match] if match is not None else []
    texts += [n.text for n in filter_nodes(where) if isinstance(n, Matches)]
    return texts


def plan_refusal(match: Text | None, where: Filter | None, limits: dict[str, int] = PLAN_LIMITS
                 ) -> tuple[str, str] | None:
    """The first plan bound a compiled query goes past, as (limit, message); None when within all."""
    texts = all_text(match, where)
    leaves = [w for t in texts for w in text_leaves(t)]
    nodes = list(filter_nodes(where))
    conditions = len(leaves) + sum(isinstance(n, (Tag, TagPrefix, Years, Published, PaperId)) for n in nodes)
    alternatives = sum(_alternatives(t) for t in texts) + sum(len(n.nodes) for n in nodes if isinstance(n, Or))
    counts = {
        "max_leaves": (conditions, "words, phrases and field conditions"),
        "max_alternatives": (alternatives, "alternatives joined by OR"),
        "max_prefixes": (sum(w.prefix for w in leaves), "prefix* searches"),
        "max_text_filters": (len(texts) - (match is not None),
                             "word searches mixed by OR or NOT with tag:, year:, published: or id:"),
        "max_tag_prefixes": (sum(isinstance(n, TagPrefix) for n in nodes), "tag:prefix* conditions"),
    }
    for limit, (count, what) in counts.items():
        if count > limits[limit]:
            return limit, f"This query has {count} {what}; a query may have at most {limits[limit]}."
    return None


# --- what the index says ---------------------------------------------------------------

def check(conn, cat, engine, texts: list[Text], known) -> None:
    """Raise Refused when a prefix stands for too many words, or the texts with a phrase not
    scored before (`known(words)` says which are) would make the engine read too many
    postings or score too many papers. Looked up in the engine's vocabulary, once per
    catalogue state and leaf."""
    prefix_postings, tokens, unknown = 0, [], []
    for words in dict.fromkeys(w for t in texts for w in text_leaves(t)):
        if words.prefix:
            terms, docs = expansion(conn, cat, engine, words.tokens[-1])
            if terms > MAX_PREFIX_TERMS:
                raise Refused("max_prefix_terms",
                              f"“{words.tokens[-1]}*” stands for {terms:,} different words; a prefix may "
                              f"stand for at most {MAX_PREFIX_TERMS}. Type more of the word.")
        if known(words):
            continue
        unknown.append(words)
        if words.prefix:
            prefix_postings += docs
        tokens += words.tokens[:-1] if words.prefix else words.tokens
    if not unknown:
        return
    docs = frequencies(conn, cat, engine, tokens)
    if prefix_postings > MAX_PREFIX_POSTINGS or sum(docs.values()) > MAX_POSTINGS:
        raise _too_broad("occur in {:,} places in the index, and a query may read at most {:,}",
                         *((prefix_postings, MAX_PREFIX_POSTINGS) if prefix_postings > MAX_PREFIX_POSTINGS
                           else (sum(docs.values()), MAX_POSTINGS)))

    def papers_of(words: Words) -> int:
        counts = [docs.get(t, 0) for t in (words.tokens[:-1] if words.prefix else words.tokens)]
        if words.prefix:
            counts.append(expansion(conn, cat, engine, words.tokens[-1])[1])
        return min(counts, default=0)  # a phrase occurs at most where its rarest word does

    scored = sum(_scored_at_most(t, papers_of) for t in texts
                 if not isinstance(t, Words) and any(w in unknown for w in text_leaves(t)))
    if scored > MAX_SCORED:
        raise _too_broad("would rank {:,} papers one by one, and a query may rank at most {:,} "
                         "(an AND of its words ranks far fewer than an OR)", scored, MAX_SCORED)


def _scored_at_most(text: Text, papers_of) -> int:
    """Papers the engine may score for a text tree: an AND at most its rarest part's, an OR the
    sum of its sides' (excluded parts only remove papers)."""
    if isinstance(text, Words):
        return papers_of(text)
    counts = [_scored_at_most(p, papers_of) for p in text.parts]
    return min(counts) if isinstance(text, AllOf) else sum(counts)


def _too_broad(what: str, count: int, limit: int) -> Refused:
    return Refused("max_postings", "This query is too broad to answer quickly: its words "
                   + what.format(count, limit)
                   + ". Use fewer or longer prefixes, fewer alternatives, or more specific words.")


def expansion(conn, cat, engine, prefix: str) -> tuple[int, int]:
    """(index terms starting with the prefix, postings of them), cached per catalogue state."""
    return cat.matches.get_or(("expansion", prefix), lambda: engine.expansion(conn, prefix))


def frequencies(conn, cat, engine, tokens: list[str]) -> dict[str, int]:
    """token -> papers containing its indexed form (its postings), cached per catalogue state;
    the tokens not known yet are looked up together (one analysis, one vocabulary query)."""
    found: dict[str, int] = {}
    missing = []
    for token in dict.fromkeys(tokens):
        value = cat.matches.peek(("frequency", token))
        if value is None:
            missing.append(token)
        else:
            found[token] = value
    if missing:
        stems = engine.analyze(" ".join(missing))
        if len(stems) != len(missing):  # a token the index splits: one at a time
            stems = [" ".join(engine.analyze(token)) for token in missing]
        docs = engine.document_frequencies(conn, stems)
        for token, stem in zip(missing, stems):
            found[token] = docs.get(stem, 0)
            cat.matches.get_or(("frequency", token), lambda value=found[token]: value)
    return found
