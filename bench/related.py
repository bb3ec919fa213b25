"""Latency of related papers ("more like this") on the corpus catalogue, uncached.

    python -m bench.related [--papers 200]

Picks papers at random (fixed seed) from the catalogue of bench/relevance.py
(PAPERS_CORPUS_DB, else one built from the corpus) and times `related_papers` for
each, once: no result is cached, so every call walks its terms' postings and reads
its candidates. The engine's vocabulary is read once per state of the database (it
is timed apart). Prints wall and CPU percentiles: on a shared machine the CPU time
is what a quiet machine would wait.
"""

import argparse
import os
import random
import time

from bench.common import log


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--papers", type=int, default=200)
    args = parser.parse_args(argv)
    from bench.relevance import catalogue
    os.environ["DATABASE_URL"] = f"sqlite:///{catalogue()}"
    from app import papers, related
    from app.db import reader

    conn = reader()
    started = time.perf_counter()
    related._vocabulary(conn)
    log(f"vocabulary read in {time.perf_counter() - started:.1f} s (once per database state)")
    ids = [row[0] for row in conn.execute("SELECT key FROM papers ORDER BY id")]
    keys = random.Random("bench-related").sample(ids, min(args.papers, len(ids)))
    wall, cpu = [], []
    for key in keys:
        page = papers.paper_by_key(key)
        w0, c0 = time.perf_counter(), time.process_time()
        related.related_papers(page)
        wall.append((time.perf_counter() - w0) * 1000)
        cpu.append((time.process_time() - c0) * 1000)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    for name, values in (("wall", wall), ("cpu", cpu)):
        print(f"{name}: p50 {percentile(values, .5):.1f} ms  p90 {percentile(values, .9):.1f} ms  "
              f"p99 {percentile(values, .99):.1f} ms  max {max(values):.1f} ms  ({len(values)} papers)")
    print(f"load average {load:.1f}")


if __name__ == "__main__":
    main()
