"""Datasette on the same papers: ingest with sqlite-utils, then its faceted table search.

sqlite-utils loads the JSON Lines as they are (lists become JSON text, which is
what `_facet_array` reads) and `enable-fts` builds an FTS5 index with the same
tokenizer as ours, with triggers, so both catalogues keep their index in sync.
Both tools run from bench/.venv-peers, on the same SQLite as the app (pysqlite3).
"""

import shlex
from pathlib import Path

from bench.common import FTS_TOKENIZER, PEERS_VENV, file_size, run_measured
from bench.http import datasette_server, load_test, sequential
from bench.queries import LOAD_CLASSES, MIX

SQLITE_UTILS = PEERS_VENV / "bin" / "sqlite-utils"


def ingest(source: Path, db: Path, *, papers: int, timeout_s: float) -> dict:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    db.parent.mkdir(parents=True, exist_ok=True)
    reader = f"gzip -dc {shlex.quote(str(source))}" if source.suffix == ".gz" else f"cat {shlex.quote(str(source))}"
    insert = run_measured(["bash", "-c", f"set -o pipefail; {reader} | {shlex.quote(str(SQLITE_UTILS))}"
                           f" insert {shlex.quote(str(db))} papers - --nl --pk id"],
                          timeout_s=timeout_s).check("sqlite-utils insert")
    fts = run_measured([str(SQLITE_UTILS), "enable-fts", str(db), "papers", "title", "abstract", "authors",
                        "--fts5", "--tokenize", FTS_TOKENIZER, "--create-triggers"],
                       timeout_s=timeout_s).check("sqlite-utils enable-fts")
    seconds = insert.wall_s + fts.wall_s
    return {"papers": papers, "seconds": round(seconds, 2), "papers_per_s": round(papers / seconds),
            "insert_s": round(insert.wall_s, 2), "enable_fts_s": round(fts.wall_s, 2),
            "db_bytes": file_size(db, Path(f"{db}-wal"))}


def measure(db: Path, *, reps: int, budget_s: float, concurrencies: list[int], duration_s: float,
            loadgen: str) -> dict:
    paths = {q.name: q.datasette_path(db.stem) for q in MIX if q.datasette_path(db.stem)}
    with datasette_server(db) as server:
        out: dict = {"startup_s": round(server.startup_s, 2), "idle": server.rss()}
        out["sequential"] = sequential(server.base, paths, reps=reps, budget_s=budget_s)
        out["after_sequential"] = server.rss()
    out["load"] = []
    for kind, queries in LOAD_CLASSES.items():
        for concurrency in concurrencies:
            # A fresh server per cell: requests still running when a cell's time is up
            # (seconds each on broad queries) must not eat into the next cell.
            with datasette_server(db) as server:
                result = load_test(server, [q.datasette_path(db.stem) for q in queries], concurrency=concurrency,
                                   duration_s=duration_s, loadgen=loadgen, timeout_s=60)
            out["load"].append({"endpoint": "datasette", "class": kind, **result})
    return out
