"""The relevance set on the real corpus: pool results for blind judging, then score the systems.

    .venv/bin/python -m bench.relevance pool --out DIR          # pool the top 10s, write chunk files
    .venv/bin/python -m bench.relevance pool --out DIR --systems engine   # top up after an engine change
    .venv/bin/python -m bench.relevance evaluate [--judgments FILE ...] [--per-query]

Three systems answer each query of tests/relevance/corpus_queries.toml:
  engine   this project's search (`app.search.run`) as checked out
  fts5     plain FTS5: every token quoted, ANDed (ORed when AND finds nothing),
           ordered by bm25() with title weight 10, abstract 1, authors 1
  tantivy  a Lucene-class BM25 reference (bench/peers/tantivy_relevance.py, run with
           bench/.venv-peers): English stemming, title boosted, OR of terms
`pool` writes, per kind of query, a Markdown file listing each query, its need and
the union of the systems' top 10s (plus a known item's target), shuffled, with no
sign of which system returned what; that mapping goes to `_systems.json` in the same
folder. Run again, it adds only papers not pooled or judged before, in new files.
`evaluate` prints nDCG@10 (gain 2^grade - 1) and P@10 (grade >= 1 counts as relevant)
per kind and overall; results nobody judged count as not relevant and are counted.

The catalogue searched: PAPERS_CORPUS_DB (a catalogue built by `papers ingest`, copied
into the work folder before use), else one built in the work folder from
PAPERS_CORPUS (default ../shared/corpus/arxiv-ai-2025-2026.jsonl.gz).
"""

import argparse
import json
import math
import os
import random
import sqlite3
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from bench.common import CORPUS, PEERS_PYTHON, PROJECT_ROOT, WORK_DIR, log

QUERIES_FILE = PROJECT_ROOT / "tests" / "relevance" / "corpus_queries.toml"
JUDGMENTS_FILE = PROJECT_ROOT / "tests" / "relevance" / "corpus_judgments.toml"
SYSTEMS = ("engine", "fts5", "tantivy")
# The app on PostgreSQL, when asked for (--systems engine,postgres): PAPERS_POSTGRES_URL names
# a database holding the same corpus (`papers ingest` with that DATABASE_URL).
OPTIONAL_SYSTEMS = ("postgres",)
KINDS = ("broad", "specific", "abbreviation", "misspelling", "known_item", "author", "field")
K = 10
FTS5_WEIGHTS = (10.0, 1.0, 1.0)  # title, abstract, authors: the FTS5 column order of migration 0001
SYSTEMS_FILE = "_systems.json"


@dataclass(frozen=True)
class Query:
    id: str
    kind: str
    q: str
    need: str
    target: str | None = None   # known items: the arXiv id of the paper meant


def load_queries(path: Path = QUERIES_FILE) -> list[Query]:
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    return [Query(e["id"], e["kind"], e["q"], e["need"], e.get("target")) for e in data["query"]]


def load_judgments(paths: list[Path]) -> tuple[dict[str, dict[str, int]], int]:
    """query id -> {arXiv id: grade}, merged over files (a later grade wins); and how many
    grades were given twice with different values."""
    grades: dict[str, dict[str, int]] = {}
    conflicts = 0
    for path in paths:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        for entry in data.get("judged", []):
            table = grades.setdefault(entry["query"], {})
            for arxiv_id, grade in entry.get("grades", {}).items():
                if grade not in (0, 1, 2):
                    raise ValueError(f"{path}: {entry['query']} {arxiv_id}: grade {grade!r} is not 0, 1 or 2")
                if arxiv_id in table and table[arxiv_id] != grade:
                    conflicts += 1
                table[arxiv_id] = grade
    return grades, conflicts


# --- the catalogue ----------------------------------------------------------------------

def catalogue() -> Path:
    """A private copy of the corpus catalogue, made or refreshed when its source changed."""
    work = WORK_DIR / "relevance"
    work.mkdir(parents=True, exist_ok=True)
    target = work / "papers.db"
    stamp = work / "papers.db.source"
    prebuilt = os.environ.get("PAPERS_CORPUS_DB")
    if prebuilt:
        source = Path(prebuilt)
        if not source.exists():
            sys.exit(f"PAPERS_CORPUS_DB={prebuilt}: no such file")
        mark = f"{source.resolve()} {source.stat().st_size} {source.stat().st_mtime_ns}"
        if not (target.exists() and stamp.exists() and stamp.read_text() == mark):
            log(f"copying the catalogue {source}")
            src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
            dst = sqlite3.connect(target)
            src.backup(dst)  # consistent even while a writer is busy with the source
            dst.close()
            src.close()
            stamp.write_text(mark)
        return target
    corpus = Path(os.environ.get("PAPERS_CORPUS") or CORPUS)
    mark = f"{corpus.resolve()} {corpus.stat().st_size if corpus.exists() else 0}"
    if target.exists() and stamp.exists() and stamp.read_text() == mark:
        return target
    if not corpus.exists():
        sys.exit(f"no corpus at {corpus}: set PAPERS_CORPUS or PAPERS_CORPUS_DB")
    from app import migrate
    from app.db import connect
    from app.ingest import ingest

    log(f"building the catalogue from {corpus} (a few minutes)")
    target.unlink(missing_ok=True)
    migrate.upgrade(f"sqlite:///{target}")
    conn = connect(target)
    ingest(conn, [str(corpus)], fmt="auto", source="arxiv", quiet=True)
    conn.close()
    stamp.write_text(mark)
    return target


# --- the systems ------------------------------------------------------------------------

def run_engine(db: Path | str, queries: list[Query]) -> dict[str, list[str]]:
    os.environ["DATABASE_URL"] = db if isinstance(db, str) else f"sqlite:///{db}"
    from app.search import SearchParams, run
    from app.settings import get_settings

    get_settings.cache_clear()
    return {q.id: [h.arxiv_id or h.key for h in run(SearchParams(q=q.q, per_page=K)).hits]
            for q in queries}


def fts5_top(conn: sqlite3.Connection, text: str, k: int = K) -> list[str]:
    """What a catalogue gets for free: each token quoted, AND, then OR if AND finds nothing."""
    from app.engine.fts5 import quote
    from app.search.query import fts_tokens

    tokens = list(dict.fromkeys(fts_tokens(text)))
    if not tokens:
        return []
    sql = ("SELECT coalesce(p.arxiv_id, p.key) FROM papers_fts JOIN papers p ON p.id = papers_fts.rowid"
           f" WHERE papers_fts MATCH ? ORDER BY bm25(papers_fts, {', '.join(map(str, FTS5_WEIGHTS))}),"
           " p.id DESC LIMIT ?")
    for joiner in (" AND ", " OR "):
        rows = conn.execute(sql, (joiner.join(quote([t]) for t in tokens), k)).fetchall()
        if rows or len(tokens) == 1:
            return [r[0] for r in rows]
    return []


def run_fts5(db: Path, queries: list[Query]) -> dict[str, list[str]]:
    from app.db import connect

    conn = connect(db, readonly=True)
    try:
        return {q.id: fts5_top(conn, q.q) for q in queries}
    finally:
        conn.close()


def run_tantivy(db: Path, queries: list[Query], python: Path) -> dict[str, list[str]]:
    if not python.exists():
        sys.exit(f"{python} not found: the tantivy reference runs in bench/.venv-peers"
                 " (pip install -r bench/requirements.txt there)")
    out = subprocess.run(
        [str(python), "-m", "bench.peers.tantivy_relevance", str(db),
         str(WORK_DIR / "relevance" / "tantivy"), "-k", str(K)],
        input=json.dumps([{"id": q.id, "q": q.q} for q in queries]), capture_output=True,
        text=True, cwd=PROJECT_ROOT, check=False)
    if out.returncode:
        sys.exit(f"tantivy reference failed:\n{out.stderr}")
    return json.loads(out.stdout)


def run_systems(db: Path, queries: list[Query], systems, peers_python: Path) -> dict[str, dict[str, list[str]]]:
    runs = {}
    for name in systems:
        log(f"running {name} on {len(queries)} queries")
        if name == "engine":
            runs[name] = run_engine(db, queries)
        elif name == "postgres":
            url = os.environ.get("PAPERS_POSTGRES_URL") or sys.exit("postgres: set PAPERS_POSTGRES_URL")
            runs[name] = run_engine(url, queries)
        elif name == "fts5":
            runs[name] = run_fts5(db, queries)
        else:
            runs[name] = run_tantivy(db, queries, peers_python)
    return runs


def _commit() -> str:
    out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=PROJECT_ROOT,
                         capture_output=True, text=True, check=False)
    return out.stdout.strip() or "unknown"


# --- pool ------------------------------------------------------------------------------

def pool(out: Path, systems, judgment_files: list[Path], peers_python: Path) -> None:
    queries = load_queries()
    db = catalogue()
    runs = run_systems(db, queries, systems, peers_python)
    out.mkdir(parents=True, exist_ok=True)
    state_file = out / SYSTEMS_FILE
    state = json.loads(state_file.read_text()) if state_file.exists() else {"rounds": [], "pooled": {}}
    judged, _ = load_judgments([p for p in judgment_files if p.exists()])
    round_no = len(state["rounds"]) + 1
    new: dict[str, list[str]] = {}
    for q in queries:
        seen = set(state["pooled"].get(q.id, [])) | set(judged.get(q.id, {}))
        found = [pid for name in systems for pid in runs[name][q.id]]
        if q.target:
            found.append(q.target)
        fresh = sorted(set(found) - seen)
        rng = random.Random(f"{q.id}:{round_no}")  # deterministic, independent of system order
        rng.shuffle(fresh)
        new[q.id] = fresh
        state["pooled"][q.id] = sorted(seen | set(fresh))
    state["rounds"].append({
        "round": round_no, "at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "commit": _commit(), "catalogue": str(db), "k": K,
        "systems": {name: runs[name] for name in systems},
    })
    papers = _papers(db, {pid for ids in new.values() for pid in ids})
    written = []
    for kind in KINDS:
        chunk = [q for q in queries if q.kind == kind]
        count = sum(len(new[q.id]) for q in chunk)
        if not count:
            continue
        name = kind if round_no == 1 else f"{kind}-topup{round_no}"
        (out / f"{name}.md").write_text(_chunk_markdown(name, chunk, new, papers), encoding="utf-8")
        written.append((name, len(chunk), count))
    state_file.write_text(json.dumps(state, indent=1) + "\n")
    for name, n_queries, count in written:
        print(f"{name}.md: {n_queries} queries, {count} papers to judge")
    if not written:
        print("nothing new to judge")


def _papers(db: Path, ids: set[str]) -> dict[str, dict]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    found = {}
    for pid in ids:
        row = conn.execute("SELECT title, abstract, authors, categories, published FROM papers"
                           " WHERE arxiv_id = ? OR key = ?", (pid, pid)).fetchone()
        if row:
            found[pid] = dict(zip(("title", "abstract", "authors", "categories", "published"), row))
    conn.close()
    return found


def _chunk_markdown(name: str, chunk: list[Query], new: dict[str, list[str]], papers: dict[str, dict]) -> str:
    total = sum(len(new[q.id]) for q in chunk)
    lines = [f"# Relevance pool `{name}`: {len(chunk)} queries, {total} papers to judge", "",
             "Read JUDGING.md first. Grade each paper against the query's **need** (0, 1 or 2),",
             f"from its title and abstract, and write your grades to `judged-{name}.toml`",
             "(a skeleton is at the end of this file). Papers are in no particular order.", ""]
    for q in chunk:
        if not new[q.id]:
            continue
        lines += [f"## {q.id}: `{q.q}`", "", f"**Need:** {q.need}", ""]
        for n, pid in enumerate(new[q.id], 1):
            p = papers.get(pid, {"title": "(not in the catalogue)", "abstract": "", "authors": "",
                                 "categories": "", "published": ""})
            lines += [f"### {q.id} / {n}. `{pid}` {p['title']}", "",
                      f"*Authors:* {p['authors'] or '-'}  ", f"*Categories:* {p['categories'] or '-'}"
                      f" · *Published:* {p['published'] or '-'}", "", p["abstract"], ""]
    lines += ["## Answer sheet", "", f"Copy into `judged-{name}.toml` and put a grade after each `=`.", "",
              "```toml"]
    for q in chunk:
        if new[q.id]:
            lines += ["[[judged]]", f'query = "{q.id}"', "[judged.grades]"]
            lines += [f'"{pid}" = ' for pid in new[q.id]] + [""]
    lines += ["```", ""]
    return "\n".join(lines)


# --- evaluate ----------------------------------------------------------------------------

def dcg(grades: list[int], k: int = K) -> float:
    return sum((2 ** g - 1) / math.log2(i + 2) for i, g in enumerate(grades[:k]))


def ndcg(ranked: list[str], grades: dict[str, int], k: int = K) -> float:
    """nDCG@k with gain 2^grade - 1; the ideal ranking is over every judged paper of the query."""
    ideal = dcg(sorted(grades.values(), reverse=True), k)
    return dcg([grades.get(pid, 0) for pid in ranked], k) / ideal if ideal else 0.0


def precision(ranked: list[str], grades: dict[str, int], k: int = K) -> float:
    """P@k: the share of the k slots holding a paper graded 1 or 2 (empty slots count as misses)."""
    return sum(1 for pid in ranked[:k] if grades.get(pid, 0) >= 1) / k


def scores(queries: list[Query], runs: dict[str, dict[str, list[str]]],
           grades: dict[str, dict[str, int]]) -> dict:
    """Per-query metrics for every system, over the queries that have judgments."""
    rows = []
    unjudged = {name: 0 for name in runs}
    for q in queries:
        g = grades.get(q.id)
        if not g:
            continue
        row = {"id": q.id, "kind": q.kind, "q": q.q}
        for name, run in runs.items():
            ranked = run[q.id][:K]
            unjudged[name] += sum(1 for pid in ranked if pid not in g)
            row[name] = (ndcg(ranked, g), precision(ranked, g))
        rows.append(row)
    return {"rows": rows, "unjudged": unjudged}


def table(result: dict, systems) -> str:
    rows = result["rows"]
    head = ["kind", "queries"] + [f"{s} nDCG@{K}" for s in systems] + [f"{s} P@{K}" for s in systems]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for kind in (*KINDS, "overall"):
        group = [r for r in rows if kind == "overall" or r["kind"] == kind]
        if not group:
            continue
        cells = [f"**{kind}**" if kind == "overall" else kind, str(len(group))]
        cells += [f"{sum(r[s][0] for r in group) / len(group):.3f}" for s in systems]
        cells += [f"{sum(r[s][1] for r in group) / len(group):.3f}" for s in systems]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def evaluate(judgment_files: list[Path], systems, peers_python: Path, per_query: bool) -> None:
    queries = load_queries()
    grades, conflicts = load_judgments(judgment_files)
    if not any(grades.values()):
        sys.exit("no grades yet: judge the pool first (see the header of tests/relevance/corpus_judgments.toml)")
    db = catalogue()
    runs = run_systems(db, queries, systems, peers_python)
    result = scores(queries, runs, grades)
    print(table(result, systems))
    print()
    missing = [q.id for q in queries if not grades.get(q.id)]
    print(f"Unjudged papers in the top {K}s (counted as not relevant): "
          + ", ".join(f"{s} {result['unjudged'][s]}" for s in systems))
    if missing:
        print(f"Queries without judgments, left out: {len(missing)} ({', '.join(missing)})")
    if conflicts:
        print(f"Grades given twice with different values (the later one used): {conflicts}")
    if per_query:
        print()
        print("| query | kind | " + " | ".join(f"{s} nDCG@{K}" for s in systems) + " |")
        print("|" + "---|" * (2 + len(systems)))
        for r in result["rows"]:
            print(f"| {r['id']} `{r['q']}` | {r['kind']} | "
                  + " | ".join(f"{r[s][0]:.3f}" for s in systems) + " |")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.relevance", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("pool", help="pool the systems' top 10s into files for blind judging")
    p.add_argument("--out", type=Path, required=True, help="folder of the pool (outside the repository)")
    e = sub.add_parser("evaluate", help="nDCG@10 and P@10 per kind from the judgments")
    e.add_argument("--per-query", action="store_true")
    for s in (p, e):
        s.add_argument("--systems", default=",".join(SYSTEMS), help=f"subset of {','.join(SYSTEMS + OPTIONAL_SYSTEMS)}")
        s.add_argument("--judgments", type=Path, nargs="*", default=[],
                       help=f"judgment files besides {JUDGMENTS_FILE.relative_to(PROJECT_ROOT)}")
        s.add_argument("--without-committed", action="store_true",
                       help="use only the --judgments files, not the committed ones")
        s.add_argument("--peers-python", type=Path, default=PEERS_PYTHON,
                       help="python of the virtualenv with tantivy (default bench/.venv-peers)")
    args = parser.parse_args(argv)
    systems = [s for s in args.systems.split(",") if s]
    unknown = set(systems) - set(SYSTEMS) - set(OPTIONAL_SYSTEMS)
    if unknown:
        parser.error(f"unknown systems: {', '.join(sorted(unknown))}")
    files = [*([] if args.without_committed else [JUDGMENTS_FILE]), *args.judgments]
    if args.command == "pool":
        pool(args.out, systems, files, args.peers_python)
    else:
        evaluate(files, systems, args.peers_python, args.per_query)


if __name__ == "__main__":
    main()
