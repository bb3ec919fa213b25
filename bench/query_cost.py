"""The worst query the cost-model fuzzer finds on a whole catalogue, in process.

    PAPERS_CORPUS_DB=<a catalogue built by papers ingest> .venv/bin/python -m bench.query_cost [examples]

The catalogue is copied before use. The queries are those of tests/fuzz/test_query_cost.py
(hypothesis, seeded): each is run as a submitted title-sorted page of 100 and as a live
(typing) request after the server's start-up warming; prints the slowest, CPU and wall
seconds, the machine's load average, and the ratio to a plain query of the same run.
"""

import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from hypothesis import given, settings

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "fuzz"))


def main(examples: int) -> None:
    source = Path(os.environ["PAPERS_CORPUS_DB"])
    work = Path(tempfile.mkdtemp(prefix="query-cost-"))
    shutil.copy(source, work / "papers.db")
    os.environ["DATABASE_URL"] = f"sqlite:///{work / 'papers.db'}"
    from test_query_cost import FUZZ, QUERY, REPEATED  # noqa: PLC0415 - after the settings point at the copy
    from hypothesis import strategies as st  # noqa: PLC0415

    from app.search import SearchParams, cost, run, warm  # noqa: PLC0415
    warm(background=False)
    times: list[tuple[float, float, str, str]] = []

    def measure(params) -> tuple[float, float, str]:
        wall, cpu = time.perf_counter(), time.process_time()
        try:
            run(params)
            outcome = "answered"
        except cost.Refused as refused:
            outcome = f"refused ({refused.limit})"
        return time.process_time() - cpu, time.perf_counter() - wall, outcome

    # The first request of a process builds what later ones share (lazily loaded tables):
    # measured apart, so the fuzzer's figures are those of a server that has answered once.
    first = measure(SearchParams(q="retrieval augmented generation benchmark", per_page=100, sort="title"))

    @settings(max_examples=examples, **FUZZ)
    @given(st.one_of(QUERY, REPEATED))
    def check(q):
        for params in (SearchParams(q=q, per_page=100, sort="title"), SearchParams(q=q, typing=True)):
            cpu, wall, outcome = measure(params)
            times.append((cpu, wall, q, outcome))
    check()
    plain = measure(SearchParams(q="retrieval augmented generation survey", per_page=100, sort="title"))
    times.sort(reverse=True)
    print(f"{len(times)} requests from {examples} queries; load average {os.getloadavg()}")
    print(f"first request: cpu {first[0]:.3f} s, wall {first[1]:.3f} s")
    print(f"plain query: cpu {plain[0]:.3f} s, wall {plain[1]:.3f} s")
    for cpu, wall, q, outcome in times[:5]:
        print(f"cpu {cpu:.3f} s  wall {wall:.3f} s  x{cpu / max(plain[0], 1e-3):.0f} plain  {outcome}  {q[:90]!r}")
    refused = sum(outcome != "answered" for *_, outcome in times)
    print(f"refused: {refused} of {len(times)}")
    shutil.rmtree(work)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 300)
