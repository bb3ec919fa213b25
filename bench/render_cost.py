"""What one request costs in process: the search page, the htmx fragment and the JSON API of one
cached result, CPU per request and bytes, without a server.

    .venv/bin/python -m bench.render_cost --db COPY/papers.db [--query "knowledge distillation"] [--n 200]
        [--rounds 3] [--unseen 40] [--profile page|fragment] [--dump DIR]

The app runs under Starlette's TestClient on the catalogue given (a copy: the app only reads it).
The query is asked a few times first, so its result is cached and every timed request measures
rendering (and the HTTP edge) alone; the views take turns for a few rounds and each keeps its
least CPU per request (on a shared machine the others' load only ever adds). CPU is
`time.process_time` (every thread of the process, the worker thread a sync route runs in included). `--unseen` adds never-seen queries (each request
a new query, so the search runs too), reported apart. `--profile` runs cProfile over the HTML route
(called in this thread) and prints where the time goes; `--dump` writes each view's body for diffing
before and after a change.
"""

import argparse
import cProfile
import io
import itertools
import os
import pstats
import sys
import time
from pathlib import Path

QUERY = "knowledge distillation"
VIEWS = {  # label -> (path prefix, headers)
    "API JSON": ("/api/papers?q=", {}),
    "page HTML": ("/?q=", {}),
    "fragment": ("/?q=", {"HX-Request": "true"}),
}
# The never-seen queries: pairs of common words (as bench/workers.py asks the server).
WORDS = ("model learning neural graph agent language vision robot reasoning diffusion policy privacy "
         "federated quantum speech medical protein attention memory retrieval").split()


def client(db: Path):
    os.environ["DATABASE_URL"] = f"sqlite:///{db}"
    from fastapi.testclient import TestClient

    from app import search
    from app.main import create_app
    search.warm(background=False)  # what `papers serve` warms while it starts: frequent words are scored
    return TestClient(create_app())


def timed(http, paths: list[str], headers: dict) -> dict:
    """CPU and wall milliseconds per request, and bytes per response, over `paths` in turn."""
    sizes = []
    cpu, wall = time.process_time(), time.perf_counter()
    for path in paths:
        response = http.get(path, headers=headers)
        if response.status_code != 200:
            raise SystemExit(f"{path}: {response.status_code} {response.text[:300]}")
        sizes.append(len(response.content))
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    n = len(paths)
    return {"cpu_ms": 1000 * cpu / n, "wall_ms": 1000 * wall / n, "bytes": sum(sizes) // n, "n": n}


def profile_render(query: str, n: int, headers: dict) -> str:
    """cProfile of the HTML route's own work, called in this thread (the test client runs routes in
    worker threads, which cProfile does not follow)."""
    from starlette.requests import Request

    from app.results import SearchParams
    from app.web.pages import render_view
    scope = {"type": "http", "method": "GET", "path": "/", "root_path": "", "scheme": "http", "query_string": b"",
             "server": ("testserver", 80), "client": ("127.0.0.1", 1), "http_version": "1.1",
             "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()]}
    params = SearchParams(q=query)
    render_view(Request(scope), params)
    profile = cProfile.Profile()
    profile.enable()
    for _ in range(n):
        render_view(Request(scope), params)
    profile.disable()
    out = io.StringIO()
    stats = pstats.Stats(profile, stream=out).strip_dirs()
    stats.sort_stats("cumulative").print_stats(60)
    stats.sort_stats("tottime").print_stats(40)
    return out.getvalue()


def unseen_paths(prefix: str, count: int, offset: int) -> list[str]:
    pairs = itertools.islice(itertools.permutations(WORDS, 2), offset, offset + count)
    return [f"{prefix}{a}+{b}" for a, b in pairs]


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.render_cost", description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, required=True, help="a copy of the catalogue (it is only read)")
    parser.add_argument("--query", default=QUERY)
    parser.add_argument("--n", type=int, default=200, help="timed requests per view")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of N per view; the least CPU is kept")
    parser.add_argument("--unseen", type=int, default=0, help="never-seen queries per view (0: none)")
    parser.add_argument("--profile", choices=["page", "fragment"], default=None)
    parser.add_argument("--dump", type=Path, default=None, help="write each view's body here")
    args = parser.parse_args()

    http = client(args.db.resolve())
    encoded = args.query.replace(" ", "+")
    for _ in range(3):  # builds the catalogue and caches the result (and each template) before timing
        for prefix, headers in VIEWS.values():
            http.get(prefix + encoded, headers=headers)
    rows = {}
    for _ in range(args.rounds):  # views take turns, so a busy spell of the machine hits each alike
        for label, (prefix, headers) in VIEWS.items():
            row = timed(http, [prefix + encoded] * args.n, headers)
            if label not in rows or row["cpu_ms"] < rows[label]["cpu_ms"]:
                rows[label] = row
        if args.dump:
            args.dump.mkdir(parents=True, exist_ok=True)
            name = label.split()[0].lower() + (".json" if label.startswith("API") else ".html")
            (args.dump / name).write_bytes(http.get(prefix + encoded, headers=headers).content)
    unseen = {}
    if args.unseen:
        for i, (label, (prefix, headers)) in enumerate(VIEWS.items()):
            unseen[label] = timed(http, unseen_paths(prefix, args.unseen, i * args.unseen), headers)

    api = rows["API JSON"]["cpu_ms"]
    print(f"query “{args.query}”, best of {args.rounds} rounds of {args.n} requests per view, result cached; "
          "load average "
          f"{open('/proc/loadavg').read().split()[0] if Path('/proc/loadavg').exists() else '?'}")
    print("| view | CPU ms/request | wall ms/request | bytes | CPU vs API |")
    print("|---|---|---|---|---|")
    for label, row in rows.items():
        print(f"| {label} | {row['cpu_ms']:.2f} | {row['wall_ms']:.2f} | {row['bytes']:,} "
              f"| {row['cpu_ms'] / api:.2f}x |")
    for label, row in unseen.items():
        print(f"| {label}, never-seen queries ({row['n']}) | {row['cpu_ms']:.2f} | {row['wall_ms']:.2f} "
              f"| {row['bytes']:,} | |")
    if args.profile:
        print(profile_render(args.query, args.n, VIEWS["fragment"][1] if args.profile == "fragment" else {}),
              file=sys.stderr)


if __name__ == "__main__":
    main()
