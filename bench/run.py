"""The benchmark run: for each corpus size, data, ingest, search, HTTP, load, peers.

Every stage writes its figures into the results JSON as soon as it ends, so a run
stopped half-way keeps what it measured; a stage that fails is recorded with its
error and the run goes on with the next one.
"""

import os
import shutil
import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

from bench import report
from bench.common import (CORPUS, MAIN_PYTHON, PEERS_PYTHON, WORK_DIR, AppTree, file_size, log, machine, now_iso,
                          run_json, run_measured, size_label, tree_size)
from bench.data import count_lines, dataset
from bench.http import app_server, load_test, loadgen_available, sequential
from bench.queries import LOAD_CLASSES, MIX

PEERS = ("datasette", "tantivy", "whoosh")
ENDPOINTS = {
    # name: (path prefix, extra headers)
    "page": ("/?", {}),
    "fragment": ("/?", {"HX-Request": "true"}),
    "api": ("/api/papers?", {}),
}


@dataclass
class Config:
    sizes: list[int]
    quick: bool = False
    reps: int = 50
    http_reps: int = 30
    budget_s: float = 10.0
    duration_s: float = 10.0
    concurrencies: list[int] = field(default_factory=lambda: [1, 4, 20])
    loadgen: str = "auto"
    peers: tuple[str, ...] = PEERS
    whoosh_limit: int = 50_000
    whoosh_budget_s: float = 600.0
    stages: tuple[str, ...] = ("ingest", "search", "http", "load", "peers")
    ingest_timeout_s: float = 3600.0
    out: Path = report.LATEST
    readme: bool = True
    command: str = ""
    app_rev: str = "HEAD"   # a git revision to snapshot, or "worktree"

    @classmethod
    def quick_defaults(cls, **overrides) -> "Config":
        base = dict(quick=True, reps=3, http_reps=3, budget_s=2.0, duration_s=2.0, concurrencies=[4],
                    whoosh_limit=400, whoosh_budget_s=60.0, ingest_timeout_s=300.0,
                    out=WORK_DIR / "quick.json", readme=False)
        base.update(overrides)
        return cls(**base)


def peers_available(cfg: Config) -> tuple[str, ...]:
    wanted = cfg.peers
    if any(p in wanted for p in ("datasette", "tantivy")) and not PEERS_PYTHON.exists():
        log("bench/.venv-peers is missing: skipping datasette and tantivy"
            " (python3 -m venv bench/.venv-peers && bench/.venv-peers/bin/pip install -r bench/requirements.txt)")
        wanted = tuple(p for p in wanted if p not in ("datasette", "tantivy"))
    return wanted


class Recorder:
    """Holds one size's results and persists them after every stage."""

    def __init__(self, cfg: Config, label: str, results: dict, tree: AppTree):
        self.cfg, self.label, self.results, self.tree = cfg, label, results, tree
        # A size measured again keeps the figures of the stages not redone; every stage
        # says when and on which app version it was measured (`stages`), and the
        # previous runs' headers are kept in `history`.
        previous = results.setdefault("runs", {}).get(label)
        self.run = results["runs"][label] = previous or {}
        if previous and "ingest" not in cfg.stages:
            # The header names the database every app figure comes from: keep it.
            self.run.setdefault("errors", {})
            self.run.setdefault("stages", {})
            return
        if previous:
            self.run.setdefault("history", []).append(
                {k: previous.get(k) for k in ("date", "commit", "command", "config")})
        self.run.update({
            "date": now_iso(), "machine": machine(), "commit": tree.label, "command": cfg.command,
            "config": {"reps": cfg.reps, "http_reps": cfg.http_reps, "budget_s": cfg.budget_s,
                       "duration_s": cfg.duration_s, "concurrencies": cfg.concurrencies,
                       "loadgen": loadgen_available() if cfg.loadgen == "auto" else cfg.loadgen,
                       "quick": cfg.quick},
        })
        self.run.setdefault("errors", {})
        self.run.setdefault("stages", {})

    def stage(self, name: str, fn, *args, **kwargs):
        log(f"[{self.label}] {name} ...")
        start = time.perf_counter()
        load_before = os.getloadavg()[0]
        try:
            value = fn(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - one failed stage must not lose the others
            log(f"[{self.label}] {name} FAILED: {exc}")
            self.run["errors"][name] = f"{type(exc).__name__}: {exc}"[-1500:]
            traceback.print_exc(file=sys.stderr)
            value = None
        else:
            log(f"[{self.label}] {name} done in {time.perf_counter() - start:.1f} s")
            self.run["errors"].pop(name, None)
        # Other work on the machine shows in the load average: figures taken under a load
        # above the core count are slowed by the scheduler, not by the code measured.
        self.run["stages"][name] = {"date": now_iso(), "commit": self.tree.label,
                                    "seconds": round(time.perf_counter() - start, 1),
                                    "load_average": [round(load_before, 2), round(os.getloadavg()[0], 2)]}
        self.save()
        return value

    def put(self, path: str, value) -> None:
        node = self.run
        *parents, leaf = path.split(".")
        for key in parents:
            node = node.setdefault(key, {})
        node[leaf] = value
        self.save()

    def save(self) -> None:
        self.results["updated"] = now_iso()
        report.save(self.results, self.cfg.out)


def run(cfg: Config) -> dict:
    results = report.load(cfg.out)
    corpus_size = count_lines(CORPUS) if CORPUS.exists() else None
    if corpus_size is None:
        log(f"SKIPPING the real corpus: {CORPUS} is absent; sizes are synthetic from the bundled seed papers")
    peers = peers_available(cfg) if "peers" in cfg.stages else ()
    tree = AppTree(cfg.app_rev)
    log(f"measuring the app at {tree.label} ({tree.root})")
    for index, n in enumerate(cfg.sizes):
        label = "165k" if corpus_size and corpus_size * 0.99 <= n <= corpus_size else size_label(n)
        rec = Recorder(cfg, label, results, tree)
        data = rec.stage("data", dataset, n, corpus_size=corpus_size)
        if data is None:
            continue
        source, meta = data
        rec.put("data", meta)
        papers = meta["papers"]
        base = WORK_DIR / "runs" / label
        app_db = base / "app" / "papers.db"
        floor_db = base / "floor" / "floor.db"
        if "ingest" in cfg.stages:
            rec.stage("ingest", ingest_stage, rec, source, app_db, floor_db, papers)
        if "search" in cfg.stages:
            rec.stage("search in process", lambda: rec.put("search_inproc", run_json(
                [str(MAIN_PYTHON), "-m", "bench.inproc", "--reps", str(cfg.reps), "--budget", str(cfg.budget_s)],
                what="in-process search", env=tree.env(DATABASE_URL=f"sqlite:///{app_db}"), cwd=tree.root,
                timeout_s=1800)))
            rec.stage("floor queries", lambda: rec.put("floor_query", run_json(
                [str(MAIN_PYTHON), "-m", "bench.floor", "query", str(floor_db), "--reps", str(cfg.reps),
                 "--budget", str(cfg.budget_s)], what="floor queries", timeout_s=1800)))
        if "http" in cfg.stages or "load" in cfg.stages:
            rec.stage("http", http_stage, rec, app_db)
        if "datasette" in peers:
            rec.stage("datasette", datasette_stage, rec, source, base / "datasette" / "bench.db", papers)
        if "tantivy" in peers:
            rec.stage("tantivy", lambda: rec.put("peers.tantivy", run_json(
                [str(PEERS_PYTHON), "-m", "bench.peers.tantivy_engine", str(source), str(base / "tantivy"),
                 "--reps", str(cfg.reps), "--budget", str(cfg.budget_s)], what="tantivy",
                timeout_s=cfg.ingest_timeout_s)))
        if "whoosh" in peers and index == 0:  # pure Python: measured once, on the smallest size of the run
            rec.stage("whoosh", lambda: rec.put("peers.whoosh", run_json(
                [str(MAIN_PYTHON), "-m", "bench.peers.whoosh_engine", str(source), str(base / "whoosh"),
                 "--limit", str(cfg.whoosh_limit), "--index-budget", str(cfg.whoosh_budget_s),
                 "--reps", str(max(3, cfg.reps // 5)), "--budget", str(cfg.budget_s)], what="whoosh",
                timeout_s=cfg.whoosh_budget_s + 1800)))
        if "ingest" in cfg.stages or "finished" not in rec.run:
            rec.put("finished", now_iso())
    if cfg.readme:
        report.write_outputs(results)
    return results


def _db_counts(db: Path) -> dict:
    from app.sqlite_driver import sqlite3

    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        counts = {"papers": conn.execute("SELECT count(*) FROM papers").fetchone()[0]}
        for kind, links in conn.execute("SELECT t.kind, count(*) FROM paper_tags pt JOIN tags t ON t.id = pt.tag_id"
                                        " GROUP BY t.kind"):
            counts[f"{kind}_tag_links"] = links
        return counts
    finally:
        conn.close()


def ingest_stage(rec: Recorder, source: Path, app_db: Path, floor_db: Path, papers: int) -> None:
    cfg = rec.cfg
    shutil.rmtree(app_db.parent, ignore_errors=True)
    app_db.parent.mkdir(parents=True)
    env = rec.tree.env(DATABASE_URL=f"sqlite:///{app_db}", DATA_DIR=str(app_db.parent))
    cmd = [str(MAIN_PYTHON), "-m", "app.cli", "ingest", str(source), "--quiet"]  # what `papers ingest` runs
    first = run_measured(cmd, env=env, timeout_s=cfg.ingest_timeout_s, cwd=rec.tree.root)
    if first.returncode not in (0, 1):  # 1: some records skipped, the rest loaded
        first.check("papers ingest")
    app = {"command": f"papers ingest {source.name} --quiet", "papers": papers, "exit_status": first.returncode,
           "seconds": round(first.wall_s, 2), "papers_per_s": round(papers / first.wall_s),
           "cpu_s": round(first.cpu_s, 2), "peak_rss_mb": round(first.max_rss_mb, 1),
           "db_bytes": file_size(app_db, Path(f"{app_db}-wal")),
           "summary": first.stderr.strip().splitlines()[-1:] or [""], "counts": _db_counts(app_db)}
    rec.put("ingest.app", app)
    again = run_measured(cmd, env=env, timeout_s=cfg.ingest_timeout_s, cwd=rec.tree.root)
    rec.put("ingest.app_reingest", {"seconds": round(again.wall_s, 2), "papers_per_s": round(papers / again.wall_s),
                                    "exit_status": again.returncode, "cpu_s": round(again.cpu_s, 2),
                                    "summary": again.stderr.strip().splitlines()[-1:] or [""]})
    shutil.rmtree(floor_db.parent, ignore_errors=True)
    floor_db.parent.mkdir(parents=True)
    floor = run_json([str(MAIN_PYTHON), "-m", "bench.floor", "ingest", str(source), str(floor_db)],
                     what="floor ingest", timeout_s=cfg.ingest_timeout_s)
    rec.put("ingest.floor", floor)
    rec.put("ingest.app_vs_floor", round(app["seconds"] / floor["seconds"], 2) if floor["seconds"] else None)


def http_stage(rec: Recorder, app_db: Path) -> None:
    cfg = rec.cfg
    with app_server(app_db, rec.tree) as server:
        rec.put("http.startup_s", round(server.startup_s, 2))
        rec.put("http.idle", server.rss())
        if "http" in cfg.stages:
            for endpoint in ("page", "api"):
                prefix, headers = ENDPOINTS[endpoint]
                paths = {q.name: prefix + q.app_query_string() for q in MIX}
                rec.put(f"http.sequential.{endpoint}", sequential(server.base, paths, headers=headers,
                                                                 reps=cfg.http_reps, budget_s=cfg.budget_s))
        if "load" in cfg.stages:
            loads = []
            for endpoint, (prefix, headers) in ENDPOINTS.items():
                for kind, queries in LOAD_CLASSES.items():
                    for concurrency in cfg.concurrencies:
                        paths = [prefix + q.app_query_string() for q in queries]
                        try:
                            result = load_test(server, paths, concurrency=concurrency, duration_s=cfg.duration_s,
                                               headers=headers, loadgen=cfg.loadgen)
                        except Exception as exc:  # noqa: BLE001 - recorded per cell
                            result = {"error": f"{type(exc).__name__}: {exc}"[:500], "concurrency": concurrency}
                        loads.append({"endpoint": endpoint, "class": kind, **result})
                        rec.put("http.load", loads)
                        log(f"  load {endpoint:8} {kind:8} c={concurrency:<3} "
                            f"{result.get('req_per_s')} req/s p99 {result.get('p99_ms')} ms"
                            f" errors {result.get('errors')}")
        rec.put("http.after", server.rss())


def datasette_stage(rec: Recorder, source: Path, db: Path, papers: int) -> None:
    from bench.peers import datasette

    cfg = rec.cfg
    rec.put("peers.datasette.ingest", datasette.ingest(source, db, papers=papers, timeout_s=cfg.ingest_timeout_s))
    rec.put("peers.datasette.serve", datasette.measure(
        db, reps=cfg.http_reps, budget_s=cfg.budget_s,
        concurrencies=cfg.concurrencies, duration_s=cfg.duration_s, loadgen=cfg.loadgen))
    rec.put("peers.datasette.db_bytes_after", tree_size(db.parent))
