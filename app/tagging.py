"""Tags are saved searches: topics.toml -> `tags` rows -> `paper_tags` links through FTS5.

Each topic's rule is a query in the user language (app/query.py). Retagging runs
every rule through FTS5, so changing the taxonomy takes seconds, not a re-ingest.
Only tags of kind "topic" are touched here; "category" tags belong to the ingest.

None of these functions opens or commits a transaction: the caller owns it, so a
retag can share the ingest's transaction and no committed state ever shows a
batch of papers without its tags.
"""

import json
import re
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from whoosh.lang.porter import stem

from app import topic_evidence
from app.query import MAX_QUERY_CHARS, CompiledQuery, compile_query, match_leaves
from app.settings import TOPICS_FILE

TOPIC_KIND = "topic"
# Rules search titles and abstracts, not authors: an author called Moe is no MoE.
RULE_COLUMNS = "{title abstract}"
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
    stale = f"{_TOPIC_TAG_IDS} AND slug NOT IN (SELECT value FROM json_each(?))"
    slugs = json.dumps([t.slug for t in topics])
    # Explicit, so stale links go even on a connection without foreign keys on.
    conn.execute(f"DELETE FROM paper_tags WHERE tag_id IN ({stale})", (slugs,))
    conn.execute(f"DELETE FROM tags WHERE id IN ({stale})", (slugs,))


def topic_members(conn) -> dict[str, set[int]]:
    """Paper ids under each topic, as the catalogue holds them now."""
    members: dict[str, set[int]] = {}
    for slug, paper in conn.execute("SELECT t.slug, pt.paper_id FROM tags t LEFT JOIN paper_tags pt"
                                    " ON pt.tag_id = t.id WHERE t.kind = 'topic'"):
        ids = members.setdefault(slug, set())
        if paper is not None:
            ids.add(paper)
    return members


def retag(conn, paper_ids: Sequence[int] | None = None) -> int:
    """Recompute topic links for these papers (None: all) from the rules in `tags`.

    Returns the number of (paper, topic) links written. The caller owns the
    transaction. A batch is restricted with a rowid range, which FTS5 uses to
    skip most of each posting list, then filtered by a temp table of the exact ids.
    """
    rules = conn.execute(
        "SELECT id, rule, evidence FROM tags WHERE kind = 'topic' ORDER BY id").fetchall()
    if paper_ids is None:
        conn.execute(f"DELETE FROM paper_tags WHERE tag_id IN ({_TOPIC_TAG_IDS})")
        scope, scope_params = "", ()
    else:
        ids = sorted({int(i) for i in paper_ids})
        if not ids:
            return 0
        conn.execute("CREATE TEMP TABLE IF NOT EXISTS retag_ids (id INTEGER PRIMARY KEY)")
        conn.execute("DELETE FROM temp.retag_ids")
        conn.executemany("INSERT INTO temp.retag_ids(id) VALUES (?)", ((i,) for i in ids))
        conn.execute("DELETE FROM paper_tags WHERE paper_id IN (SELECT id FROM temp.retag_ids) "
                     f"AND tag_id IN ({_TOPIC_TAG_IDS})")
        # The unary + keeps the planner from turning IN into one FTS5 lookup per id
        # (each re-reading whole posting lists: minutes for a batch) instead of a range scan.
        scope = " AND {id} BETWEEN ? AND ? AND +{id} IN (SELECT id FROM temp.retag_ids)"
        scope_params = (ids[0], ids[-1])
    written = 0
    for tag_id, rule, evidence in rules:
        compiled = compile_rule(rule or "")
        if compiled.is_empty:  # a rule that searches for nothing must not tag everything
            continue
        if evidence:
            written += _insert_weighed_links(conn, tag_id, compiled, scope, scope_params,
                                             topic_evidence.from_json(evidence))
        else:
            written += _insert_links(conn, tag_id, compiled, scope, scope_params)
    return written


def _insert_links(conn, tag_id: int, compiled: CompiledQuery, scope: str, scope_params) -> int:
    insert = "INSERT OR IGNORE INTO paper_tags(tag_id, paper_id) SELECT ?, "
    where = f" AND {compiled.where}" if compiled.where else ""
    if compiled.match is not None:
        join = " JOIN papers p ON p.id = papers_fts.rowid" if compiled.where else ""
        sql = (f"{insert}papers_fts.rowid FROM papers_fts{join} WHERE papers_fts MATCH ?"
               f"{scope.format(id='papers_fts.rowid')}{where}")
        params = (tag_id, compiled.match, *scope_params, *compiled.params)
    else:
        sql = f"{insert}p.id FROM papers p WHERE 1{scope.format(id='p.id')}{where}"
        params = (tag_id, *scope_params, *compiled.params)
    return conn.execute(sql, params).rowcount


def _insert_weighed_links(conn, tag_id: int, compiled: CompiledQuery, scope: str, scope_params,
                          evidence: topic_evidence.Evidence) -> int:
    """Tag the rule's matches whose title and abstract carry enough evidence."""
    keep = [(tag_id, i) for i in _weighed_matches(conn, compiled, scope, scope_params, evidence)]
    conn.executemany("INSERT OR IGNORE INTO paper_tags(tag_id, paper_id) VALUES (?, ?)", keep)
    return len(keep)


def _weighed_matches(conn, compiled: CompiledQuery, scope: str, scope_params,
                     evidence: topic_evidence.Evidence) -> list[int]:
    where = f" AND {compiled.where}" if compiled.where else ""
    if compiled.match is not None:
        rows = conn.execute(
            "SELECT p.id, p.title, p.abstract FROM papers p WHERE p.id IN (SELECT papers_fts.rowid FROM"
            f" papers_fts WHERE papers_fts MATCH ?{scope.format(id='papers_fts.rowid')}){where}",
            (compiled.match, *scope_params, *compiled.params)).fetchall()
    else:
        rows = conn.execute(f"SELECT p.id, p.title, p.abstract FROM papers p WHERE 1{scope.format(id='p.id')}"
                            f"{where}", (*scope_params, *compiled.params)).fetchall()
    return [r[0] for r in rows if topic_evidence.judge(r[1] or "", r[2] or "", evidence)]


def matching_papers(conn, topic: Topic) -> set[int]:
    """The papers a topic would tag now, read without writing (for measuring a rule)."""
    compiled = compile_rule(topic.query)
    if compiled.is_empty:
        return set()
    if topic.evidence:
        return set(_weighed_matches(conn, compiled, "", (), topic.evidence))
    if compiled.match is None:
        sql, params = f"SELECT p.id FROM papers p WHERE {compiled.where}", compiled.params
    else:
        sql = ("SELECT p.id FROM papers p WHERE p.id IN (SELECT rowid FROM papers_fts WHERE papers_fts MATCH ?)"
               + (f" AND {compiled.where}" if compiled.where else ""))
        params = (compiled.match, *compiled.params)
    return {r[0] for r in conn.execute(sql, params)}


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
    found, seen = [], set()
    for term, expr in match_leaves(compile_rule(row[0])):
        key = tuple(stem(t) for t in term.split())
        if key in seen:  # "hallucination" and "hallucinations" are one match to FTS5
            continue
        hit = conn.execute("SELECT 1 FROM papers_fts WHERE papers_fts MATCH ? AND rowid = ?",
                           (expr, paper_id)).fetchone()
        if hit:
            seen.add(key)
            found.append(term)
    return found
