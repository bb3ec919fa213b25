"""Latency of related papers ("more like this") on the corpus catalogue, uncached.

    python -m bench.related [--papers 200] [--passes 2]

Picks papers at random (fixed seed) from the catalogue of bench/relevance.py
(PAPERS_CORPUS_DB, else one built from the corpus) and times `related_papers` for
each, once: no result is cached, so every call reads its candidates. The engine's
vocabulary is read once per state of the database (it is timed apart); each term's
papers are kept per state of the database as they are first walked, so the first
pass starts with none kept and each later pass (other papers) finds those the
earlier ones walked. Prints wall and CPU percentiles per pass: on a shared machine
the CPU time is what a quiet machine would wait.
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
    parser.add_argument("--papers", type=int, default=200, help="papers per pass")
    parser.add_argument("--passes", type=int, default=2)
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
    drawn = random.Random("bench-related").sample(ids, min(args.papers * args.passes, len(ids)))
    for number in range(args.passes):
        keys = drawn[number * args.papers:(number + 1) * args.papers]
        if not keys:
            break
        wall, cpu, shown = [], [], []
        for key in keys:
            page = papers.paper_by_key(key)
            w0, c0 = time.perf_counter(), time.process_time()
            found = related.related_papers(page)
            wall.append((time.perf_counter() - w0) * 1000)
            cpu.append((time.process_time() - c0) * 1000)
            shown.append(len(found))
        load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
        print(f"pass {number + 1} ({len(keys)} papers, load average {load:.1f}),"
              f" related shown per paper {sum(shown) / len(shown):.2f}, none {shown.count(0)}")
        for name, values in (("wall", wall), ("cpu", cpu)):
            print(f"  {name}: p50 {percentile(values, .5):.1f} ms  p90 {percentile(values, .9):.1f} ms  "
                  f"p99 {percentile(values, .99):.1f} ms  max {max(values):.1f} ms")


if __name__ == "__main__":
    main()
