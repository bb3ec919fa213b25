"""Latency of `app.search.run(SearchParams(...))` in process, for every query of the mix.

Run as `DATABASE_URL=sqlite:///.../papers.db python -m bench.inproc --reps 30`;
prints one JSON document. A query that raises is reported with its error, so a
half-finished engine still gets the rest of the mix measured.
"""

import argparse
import json
import os
import sys
import time
import traceback

from bench.common import latency_summary, rss_mb, timed_repeats
from bench.queries import MIX


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.inproc")
    parser.add_argument("--reps", type=int, default=30)
    parser.add_argument("--budget", type=float, default=10.0, help="seconds per query at most")
    args = parser.parse_args()

    start = time.perf_counter()
    from app.search import SearchParams, run
    import_s = time.perf_counter() - start
    out: dict = {"import_s": round(import_s, 3), "queries": {}}
    for query in MIX:
        params = SearchParams(q=query.q, tags=query.tags, sort=query.sort, page=query.page)
        entry: dict = {}
        try:
            first = time.perf_counter()
            result = run(params)
            entry["first_ms"] = round((time.perf_counter() - first) * 1000, 2)
            entry["matches"] = result.total
            entry["hits"] = len(result.hits)
            entry["facet_values"] = {kind: len(values) for kind, values in (result.facets or {}).items()}
            entry.update(latency_summary(timed_repeats(lambda p=params: run(p), reps=args.reps,
                                                       budget_s=args.budget, warmup=0)))
        except Exception as exc:  # noqa: BLE001 - recorded, the rest of the mix still runs
            entry["error"] = f"{type(exc).__name__}: {exc}"[:300]
            entry["traceback"] = traceback.format_exc(limit=3)[-800:]
        out["queries"][query.name] = entry
    out["rss_mb"] = rss_mb(os.getpid())
    out["peak_rss_mb"] = rss_mb(os.getpid(), "VmHWM")
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
