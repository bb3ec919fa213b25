"""Tags are saved searches: topics.toml -> `tags` rows -> `paper_tags` links through FTS5.

Each topic's rule is a query in the user language, compiled to the same typed plan
a search uses (app/search/query.py). Retagging evaluates every rule's plan: its
text through the engine, its filters over the papers in scope, so changing the
taxonomy takes seconds, not a re-ingest.
Only tags of kind "topic" are touched here; "category" tags belong to the ingest.

None of these functions opens or commits a transaction: the caller owns it, so a
retag can share the ingest's transaction and no committed state ever shows a
batch of papers without its tags.
"""

import multiprocessing as mp
import os
import re
import tomllib
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from whoosh.lang.porter import stem

from app import plan, topic_evidence
from app.allocation import bulk_work
from app.db import values_in
from app.engine import SearchEngine, get_engine
from app.search.bitsets import from_ids, members, parse_ids
from app.search.query import MAX_QUERY_CHARS, CompiledQuery, compile_query
from app.settings import TOPICS_FILE

TOPIC_KIND = "topic"
# Rules search titles and abstracts, not authors: an author called Moe is no MoE.
RULE_COLUMNS = ("title", "abstract")
_SLUG = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
_TOPIC_TAG_IDS = "SELECT id FROM tags WHERE kind = 'topic'"


@dataclass(frozen=True)
class Topic:
    slug: str
    name: str
    description: str
    query: str
    # How strong a candidate's match must be (app/topic_evidence.py); None: any match.
    evidence: topic_evidence.Evidence | None = None


def compile_rule(rule: str) -> CompiledQuery:
    return compile_query(rule, default_columns=RULE_COLUMNS)


def load_topics(path=TOPICS_FILE) -> list[Topic]:
    """Read and validate the taxonomy: unique slugs, and rules that compile to a search."""
    data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    topics, seen = [], set()
    for entry in data.get("topic", []):
        slug, name = str(entry.get("slug", "")), str(entry.get("name", "")).strip()
        query = " ".join(str(entry.get("query", "")).split())
        if not _SLUG.fullmatch(slug):
            raise ValueError(f"topic slug {slug!r} must be lower-case words joined by hyphens")
        if slug in seen:
            raise ValueError(f"duplicate topic slug {slug!r}")
        if not name:
            raise ValueError(f"topic {slug!r} has no name")
        if len(query) > MAX_QUERY_CHARS:
            # compile_query would silently cut it, as it does for users.
            raise ValueError(f"topic {slug!r}: rule longer than {MAX_QUERY_CHARS} characters")
        refused = compile_rule(query).refused
        if refused is not None:
            raise ValueError(f"topic {slug!r}: {refused.message}")
        if compile_rule(query).is_empty:
            raise ValueError(f"topic {slug!r}: rule {query!r} searches for nothing")
        try:
            evidence = topic_evidence.parse(entry.get("evidence"))
        except ValueError as exc:
            raise ValueError(f"topic {slug!r}: {exc}") from None
        seen.add(slug)
        topics.append(Topic(slug, name, " ".join(str(entry.get("description", "")).split()), query,
                            evidence))
    return topics


def sync_topics(conn, topics: Sequence[Topic] | None = None) -> None:
    """Make the topic rows of `tags` equal the taxonomy (rule = the query text).

    Topics no longer listed are deleted with their links. Does not retag.
    """
    topics = load_topics() if topics is None else topics
    for topic in topics:
        conn.execute(
            """INSERT INTO tags(slug, name, kind, description, rule, evidence)
               VALUES (?, ?, 'topic', ?, ?, ?)
               ON CONFLICT(slug) DO UPDATE SET name = excluded.name,
                   description = excluded.description, rule = excluded.rule,
                   evidence = excluded.evidence
               WHERE tags.kind = 'topic'""",
            (topic.slug, topic.name, topic.description, topic.query,
             topic.evidence.to_json() if topic.evidence else ""))
    listed, slugs = values_in(conn, [t.slug for t in topics], "text")
    stale = f"{_TOPIC_TAG_IDS} AND slug NOT IN {listed}"
    # Explicit, so stale links go even on a connection without foreign keys on.
    conn.execute(f"DELETE FROM paper_tags WHERE tag_id IN ({stale})", slugs)
    conn.execute(f"DELETE FROM tags WHERE id IN ({stale})", slugs)


def topic_members(conn) -> dict[str, set[int]]:
    """Paper ids under each topic, as the catalogue holds them now."""
    by_topic: dict[str, set[int]] = {}
    for slug, paper in conn.execute("SELECT t.slug, pt.paper_id FROM tags t LEFT JOIN paper_tags pt"
                                    " ON pt.tag_id = t.id WHERE t.kind = 'topic'"):
        ids = by_topic.setdefault(slug, set())
        if paper is not None:
            ids.add(paper)
    return by_topic


@bulk_work()
def retag(conn, paper_ids: Sequence[int] | None = None, judges: "Judges | None" = None) -> int:
    """Recompute topic links for these papers (None: all) from the rules in `tags`.

    Returns the number of (paper, topic) links written. The caller owns the
    transaction. The engine restricts a batch's matches to the batch's id range,
    which lets it skip most of each posting list. `judges`: worker processes
    already started for the rules of `evidence_rules` (see `Judges`).
    """
    rules = conn.execute(
        "SELECT id, rule, evidence FROM tags WHERE kind = 'topic' ORDER BY id").fetchall()
    if paper_ids is None:
        conn.execute(f"DELETE FROM paper_tags WHERE tag_id IN ({_TOPIC_TAG_IDS})")
        within = None
        scope = parse_ids(conn.execute("SELECT group_concat(id) FROM papers").fetchone()[0])
    else:
        within = scope = sorted({int(i) for i in paper_ids})
        if not scope:
            return 0
        listed, ids = values_in(conn, scope)
        conn.execute(f"DELETE FROM paper_tags WHERE paper_id IN {listed} AND tag_id IN ({_TOPIC_TAG_IDS})", ids)
    if not scope:
        return 0
    size = scope[-1] + 1
    scope_reads = Scope(conn, get_engine(conn), within, from_ids(scope, size), size)
    found: list[tuple[int, list[int]]] = []  # (tag id, papers its rule selects)
    weighed: list[tuple[int, list[int], topic_evidence.Evidence]] = []  # candidates still to be read
    for tag_id, rule, evidence in rules:
        compiled = compile_rule(rule or "")
        if compiled.is_empty:  # a rule that searches for nothing must not tag everything
            continue
        ids = members(scope_reads.papers(compiled))
        if evidence:  # the rule's matches are candidates; their text must be about the topic
            weighed.append((tag_id, ids, topic_evidence.from_json(evidence)))
        else:
            found.append((tag_id, ids))
    if weighed:
        kept = weigh_all(conn, [(ids, evidence) for _tag, ids, evidence in weighed], judges)
        found += [(tag_id, ids) for (tag_id, _c, _e), ids in zip(weighed, kept)]
    written = 0
    for tag_id, ids in sorted(found):
        written += conn.executemany("INSERT OR IGNORE INTO paper_tags(tag_id, paper_id) VALUES (?, ?)",
                                    [(tag_id, i) for i in ids]).rowcount
    return written


def papers_matching(conn, compiled: CompiledQuery) -> list[int]:
    """Ids of every paper a compiled query selects, straight from the database
    (no in-memory catalogue): what a rule tags."""
    ids = parse_ids(conn.execute("SELECT group_concat(id) FROM papers").fetchone()[0])
    if not ids:
        return []
    size = max(ids) + 1
    return members(Scope(conn, get_engine(conn), None, from_ids(ids, size), size).papers(compiled))


class Scope:
    """A query's plan evaluated over some papers (a batch being tagged), as bitsets of ids."""

    def __init__(self, conn, engine: SearchEngine, within: list[int] | None, universe: int, size: int):
        self.conn, self.engine, self.within, self.universe, self.size = conn, engine, within, universe, size

    def papers(self, compiled: CompiledQuery) -> int:
        bits = self.universe
        if compiled.match is not None:
            bits &= self._match(compiled.match)
        if compiled.filter is not None:
            bits &= plan.evaluate(compiled.filter, self._resolve, self.universe)[0]
        return bits

    def _match(self, text: plan.Text) -> int:
        return from_ids(self.engine.match_ids(self.conn, text, self.within), self.size) & self.universe

    def _ids(self, sql: str, params: tuple) -> int:
        return from_ids(parse_ids(self.conn.execute(sql, params).fetchone()[0]), self.size) & self.universe

    def _resolve(self, leaf) -> tuple[int, int]:
        universe = self.universe
        if isinstance(leaf, plan.Matches):
            bits = self._match(leaf.text)
            return bits, universe & ~bits
        if isinstance(leaf, (plan.Tag, plan.TagPrefix)):
            tags = [(row[0], row[1]) for row in self.conn.execute("SELECT id, slug FROM tags")]
            if isinstance(leaf, plan.Tag):
                wanted = [i for i, slug in tags if plan.ascii_fold(slug) == plan.ascii_fold(leaf.slug)]
            else:
                wanted = [i for i, slug in tags if plan.ascii_fold(slug).startswith(plan.ascii_fold(leaf.prefix))]
            listed, ids = values_in(self.conn, wanted)
            bits = self._ids(f"SELECT group_concat(paper_id) FROM paper_tags WHERE tag_id IN {listed}", ids)
            return bits, universe & ~bits
        if isinstance(leaf, plan.Years):
            true = self._ids("SELECT group_concat(id) FROM papers WHERE year BETWEEN ? AND ?",
                             (leaf.start if leaf.start is not None else -10**9,
                              leaf.end if leaf.end is not None else 10**9))
            dated = self._ids("SELECT group_concat(id) FROM papers WHERE year IS NOT NULL", ())
            return true, dated & ~true
        if isinstance(leaf, plan.Published):
            true = self._ids("SELECT group_concat(id) FROM papers WHERE published BETWEEN ? AND ?",
                             ((leaf.start or date.min).isoformat(), (leaf.end or date.max).isoformat()))
            dated = self._ids("SELECT group_concat(id) FROM papers WHERE published IS NOT NULL", ())
            return true, dated & ~true
        if isinstance(leaf, plan.PaperId):
            true = self._ids("SELECT group_concat(id) FROM papers WHERE arxiv_id = ? OR key = ?",
                             (leaf.arxiv_id, leaf.key))
            known = self._ids("SELECT group_concat(id) FROM papers WHERE arxiv_id IS NOT NULL", ())
            return true, known & ~true
        raise TypeError(f"not a filter leaf: {leaf!r}")


def weigh(conn, ids: Sequence[int], evidence: topic_evidence.Evidence) -> list[int]:
    """The candidates whose title and abstract carry enough evidence (ascending ids)."""
    return weigh_all(conn, [(ids, evidence)])[0]


# Judging evidence is pure Python, some 0.1 ms a candidate pair: a retag of the whole catalogue
# (some 200,000 pairs at 165k papers) shares it among processes, one per core.
PARALLEL_PAIRS = 20_000  # fewer pairs than this: starting the processes costs more than it saves
PAPERS_PER_TASK = 2_000
WORKERS = max(1, min(4, os.cpu_count() or 1))


def evidence_rules(conn) -> tuple[topic_evidence.Evidence, ...]:
    """The evidence rules a retag of everything judges, in the order it numbers them."""
    rules = []
    for rule, evidence in conn.execute("SELECT rule, evidence FROM tags WHERE kind = 'topic' ORDER BY id"):
        if evidence and not compile_rule(rule or "").is_empty:
            rules.append(topic_evidence.from_json(evidence))
    return tuple(rules)


class Judges:
    """Worker processes judging evidence, started before they are needed.

    A spawned process imports the app afresh and compiles the rules' regexes, a few
    seconds of CPU each: started before a long step that leaves a core free (the index
    build of a load into an empty catalogue), that time is hidden. `None` from `start`
    when there is one core. A context manager; the processes end with it.
    """

    def __init__(self, rules: tuple[topic_evidence.Evidence, ...]):
        self.rules = rules
        # spawn, not fork: the caller's SQLite connection (inside a transaction) stays its own.
        self.pool = ProcessPoolExecutor(WORKERS, mp_context=mp.get_context("spawn"),
                                        initializer=topic_evidence.start_judge, initargs=(rules, os.getpid()))
        for _ in range(WORKERS):  # each submission starts a process, which begins to import now
            self.pool.submit(topic_evidence.warm)

    @classmethod
    def start(cls, rules: tuple[topic_evidence.Evidence, ...]) -> "Judges | None":
        return cls(rules) if WORKERS > 1 and rules else None

    def judge(self, tasks) -> Iterator[list[tuple[int, int]]]:
        pending: deque = deque()
        for task in tasks:  # a few tasks in flight: the texts are read as the workers need them
            pending.append(self.pool.submit(topic_evidence.judge_papers, task))
            if len(pending) > 2 * WORKERS:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()

    def close(self) -> None:
        self.pool.shutdown(cancel_futures=True)

    def __enter__(self) -> "Judges":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def weigh_all(conn, candidates: Sequence[tuple[Sequence[int], topic_evidence.Evidence]],
              judges: Judges | None = None) -> list[list[int]]:
    """For each (candidate ids, evidence rule): the candidates about the topic, ascending.

    Each candidate paper is read once, for all of its rules; the judging is shared among
    worker processes when there is enough of it (`judges`: ones already started, used when
    their rules are these). The outcome is the same either way.
    """
    rules = tuple(evidence for _ids, evidence in candidates)
    wanted: dict[int, list[int]] = {}
    for index, (ids, _evidence) in enumerate(candidates):
        for paper_id in ids:
            wanted.setdefault(paper_id, []).append(index)
    pairs = sum(len(ids) for ids, _evidence in candidates)
    kept: list[list[int]] = [[] for _ in candidates]
    tasks = _tasks(conn, wanted)
    if judges is not None and judges.rules == rules:
        judged = judges.judge(tasks)
    elif pairs >= PARALLEL_PAIRS and WORKERS > 1:
        judged = _judge_in_workers(rules, tasks)
    else:
        topic_evidence.use_rules(rules)
        judged = (topic_evidence.judge_papers(task) for task in tasks)
    for batch in judged:
        for paper_id, index in batch:
            kept[index].append(paper_id)
    for ids in kept:
        ids.sort()
    return kept


def _tasks(conn, wanted: dict[int, list[int]]) -> Iterator[list[tuple[int, str, str, tuple[int, ...]]]]:
    """The candidate papers' texts with their rules, a task at a time, in id order."""
    ids = sorted(wanted)
    for start in range(0, len(ids), PAPERS_PER_TASK):
        listed, args = values_in(conn, ids[start:start + PAPERS_PER_TASK])
        rows = conn.execute(f"SELECT id, title, abstract FROM papers WHERE id IN {listed} ORDER BY id", args)
        yield [(paper_id, title, abstract, tuple(wanted[paper_id])) for paper_id, title, abstract in rows]


def _judge_in_workers(rules, tasks) -> Iterator[list[tuple[int, int]]]:
    with Judges(rules) as judges:
        yield from judges.judge(tasks)


def matching_papers(conn, topic: Topic) -> set[int]:
    """The papers a topic would tag now, read without writing (for measuring a rule)."""
    compiled = compile_rule(topic.query)
    if compiled.is_empty:
        return set()
    ids = papers_matching(conn, compiled)
    return set(weigh(conn, ids, topic.evidence) if topic.evidence else ids)


def explain(conn, paper_id: int, tag_slug: str) -> list[str]:
    """The words and phrases of a topic's rule that this paper matches (best effort:
    each positive leaf is checked on its own, ignoring the operators around it)."""
    row = conn.execute("SELECT rule, evidence FROM tags WHERE slug = ? AND kind = 'topic'",
                       (tag_slug,)).fetchone()
    if row is None or not row[0]:
        return []
    if row[1]:  # the mentions that count, as the paper writes them
        paper = conn.execute("SELECT title, abstract FROM papers WHERE id = ?", (paper_id,)).fetchone()
        return topic_evidence.judge(paper[0] or "", paper[1] or "", topic_evidence.from_json(row[1])) if paper else []
    engine = get_engine(conn)
    found, seen = [], set()
    for term, text in compile_rule(row[0]).leaves:
        key = tuple(stem(t) for t in term.split())
        if key in seen:  # "hallucination" and "hallucinations" are one match to FTS5
            continue
        if engine.match_ids(conn, text, [paper_id]):
            seen.add(key)
            found.append(term)
    return found
