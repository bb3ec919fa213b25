"""Serving throughput and memory at 1, 2, 4 uvicorn workers (`papers serve --workers N`), with wrk.

    .venv/bin/python -m bench.workers --db PATH/papers.db [--workers 1,2,4] [--duration 10] [--clients 20]
        [--rounds 1] [--settle 600]

For each worker count: the server on the catalogue given (a copy: the server only reads it), every
worker warmed (its in-memory catalogue built, the measured views cached), then -- once the workers'
start-up warm-up is over -- wrk on the same query as JSON, HTML page and htmx fragment, on /health,
and on never-seen queries (every request a new query and page, so nothing is cached). Memory is
each worker's resident and proportional set size (PSS counts pages shared between workers once).
Prints one Markdown table; absolute figures drift on a shared machine, so compare within one run.

Each worker scores the most frequent words in a background thread after it starts (`papers serve`:
tens of seconds of CPU per worker on 165k papers). Measured while that runs, every view pays for it:
the server's CPU per request doubled at two workers, whose two warm-ups outlasted the cached views,
while one worker's ended within the first. So the harness waits for the servers' CPU to fall idle
(`--settle`, up to 600 s by default; the seconds waited are reported, and a row whose limit passed
first says so); `--settle 0` measures at once, as a visitor arriving at start would be served.

Throughput on a machine others load says little, so two more figures: `--rounds R` runs the views
R times in turn and keeps each view's best rate (its least disturbed window), and every view's
server CPU per request (the workers' user + system time over the requests wrk counted), which
other load barely moves: its ratios are the throughput ratios of a quiet machine. wrk's own CPU per
request is reported beside it (it shares the cores), and the load average at each row's start.

`--servers 1,2` measures app servers instead of workers: N `papers serve --workers 1` processes
on their own ports (as behind a load balancer), one wrk per server at the same time with the
clients shared out, their rates added. `--url` serves that database (e.g. PostgreSQL) instead
of `--db`, so both backends are measured by the same harness.
"""

import argparse
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from bench.common import free_port

QUERY = "knowledge+distillation"
VIEWS = [  # (label, path, extra wrk arguments)
    ("health", "/health", []),
    ("API JSON", f"/api/papers?q={QUERY}", []),
    ("page HTML", f"/?q={QUERY}", []),
    ("fragment", f"/?q={QUERY}", ["-H", "HX-Request: true"]),
]
WORDS = ("model learning neural graph agent language vision robot reasoning diffusion policy privacy "
         "federated quantum speech medical protein attention memory retrieval").split()
UNSEEN_LUA = """
local words = {%s}
local n = 0
request = function()
  n = n + 1
  local a, b = words[n %% #words + 1], words[math.floor(n / #words) %% #words + 1]
  local page = 1 + math.floor(n / (#words * #words)) %% 40
  return wrk.format("GET", "%s" .. a .. "+" .. b .. "&page=" .. page)
end
"""


def wrk(base: str, path: str, extra: list[str], duration: int, clients: int, script: str | None = None) -> dict:
    command = ["wrk", "-t2", f"-c{clients}", f"-d{duration}s", "--timeout", "10s", *extra]
    if script:
        command = ["wrk", "-t1", f"-c{clients}", f"-d{duration}s", "--timeout", "10s", "-s", script]
    out = subprocess.run([*command, base + path], capture_output=True, text=True, timeout=duration + 60).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    return {"rps": rate, "seconds": duration,
            "errors": (int(bad.group(1)) if bad else 0) + (sum(map(int, errors.groups())) if errors else 0)}


def cpu_seconds(parent: int) -> float:
    """User + system CPU of the server's processes (the parent and its workers) so far."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    pids = [parent, *map(int, Path(f"/proc/{parent}/task/{parent}/children").read_text().split())]
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        except FileNotFoundError:
            continue
        total += (int(fields[11]) + int(fields[12])) / tick  # utime, stime
    return total


def memory(parent: int) -> list[tuple[int, int]]:
    """(RSS, PSS) in MB of each worker process under the uvicorn parent (or the parent alone)."""
    children = Path(f"/proc/{parent}/task/{parent}/children").read_text().split()
    workers = [int(pid) for pid in children
               if b"resource_tracker" not in Path(f"/proc/{pid}/cmdline").read_bytes()] or [parent]
    result = []
    for pid in workers:
        fields = {}
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
            name, value = line.split(":", 1)
            fields[name] = int(value.split()[0])
        result.append((fields["Rss"] // 1024, fields["Pss"] // 1024))
    return result


def serve(url: str, workers: int):
    port = free_port()
    env = {**os.environ, "DATABASE_URL": url}
    process = subprocess.Popen([sys.executable, "-m", "app.cli", "serve", "--port", str(port), "--workers",
                                str(workers), "--skip-check", "--no-seed", "--log-level", "warning"],
                               env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(base + "/health", timeout=5):
                return process, base
        except OSError:
            time.sleep(0.5)
    process.kill()
    raise RuntimeError("server did not start")


def warm(base: str, workers: int) -> None:
    """Every worker builds its catalogue and caches the measured views: enough requests to reach each.
    A worker still starting answers 503 (its catalogue not built yet): asked again after a pause."""
    for _ in range(10 * workers):
        for _, path, extra in VIEWS:
            request = urllib.request.Request(base + path, headers=dict([extra[1].split(": ")]) if extra else {})
            for attempt in range(60):
                try:
                    urllib.request.urlopen(request, timeout=120).read()
                    break
                except urllib.error.HTTPError as exc:
                    if exc.code != 503 or attempt == 59:
                        raise
                    time.sleep(1)


def database_cpu_seconds() -> float:
    """User + system CPU so far of this machine's PostgreSQL server processes: on PostgreSQL
    the warm-up's work is mostly theirs, while the app servers wait for its statements."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            name, _, rest = stat.read_text().partition(" (")[2].rpartition(")")
        except OSError:
            continue
        if name == "postgres":
            fields = rest.split()
            total += (int(fields[11]) + int(fields[12])) / tick
    return total


def settle(processes: list, limit: float, database: bool = False) -> tuple[float, bool]:
    """Wait until the servers' start-up warm-up (BM25 of the most frequent words, in a background
    thread of each worker) is over: their CPU, all processes together (and the database server's,
    with `database`), under a tenth of a core for 3 s. (Seconds waited, whether it ended before
    `limit` seconds.)"""
    def spent() -> float:
        return sum(cpu_seconds(p.pid) for p in processes) + (database_cpu_seconds() if database else 0.0)
    started = time.monotonic()
    while time.monotonic() - started < limit:
        before = spent()
        time.sleep(3)
        if spent() - before < 0.3:
            return time.monotonic() - started, True
    return time.monotonic() - started, False


def children_cpu() -> float:
    """User + system CPU of this process's finished children (the wrk runs) so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def measured(processes: list, run) -> dict:
    """A wrk run, with the servers' CPU per request it counted, and wrk's own."""
    before, client_before = sum(cpu_seconds(p.pid) for p in processes), children_cpu()
    result = run()
    requests = result["rps"] * result["seconds"]
    spent = sum(cpu_seconds(p.pid) for p in processes) - before
    result["cpu_ms"] = 1000 * spent / requests if requests else float("nan")
    result["wrk_cpu_ms"] = 1000 * (children_cpu() - client_before) / requests if requests else float("nan")
    return result


def wrk_all(bases: list[str], path: str, extra: list[str], duration: int, clients: int,
            script: str | None = None) -> dict:
    """One wrk per server, all at once, the clients shared out; their rates and errors added."""
    if len(bases) == 1:
        return wrk(bases[0], path, extra, duration, clients, script)
    from concurrent.futures import ThreadPoolExecutor
    share = max(1, clients // len(bases))
    with ThreadPoolExecutor(len(bases)) as pool:
        results = list(pool.map(lambda base: wrk(base, path, extra, duration, share, script), bases))
    return {"rps": sum(r["rps"] for r in results), "seconds": duration,
            "errors": sum(r["errors"] for r in results)}


def measure(url: str, workers: int, duration: int, clients: int, scripts: dict, rounds: int = 1,
            servers: int = 1, settle_limit: float = 0) -> dict:
    started = []
    try:
        for _ in range(servers):
            started.append(serve(url, workers))
        processes, bases = [p for p, _ in started], [b for _, b in started]
        for base in bases:
            warm(base, workers)
        row: dict = {"load": os.getloadavg()[0], "settled_s": 0.0, "settled": settle_limit == 0}
        if settle_limit:
            row["settled_s"], row["settled"] = settle(processes, settle_limit, url.startswith("postgresql"))
        for _ in range(rounds):  # views take turns; each keeps its best round
            for label, path, extra in VIEWS:
                result = measured(processes, lambda: wrk_all(bases, path, extra, duration, clients))
                if label not in row or result["rps"] > row[label]["rps"]:
                    row[label] = result
        for label, script in scripts.items():
            row[label] = measured(processes, lambda: wrk_all(bases, "", [], duration, clients, script))
        row["memory"] = [m for process in processes for m in memory(process.pid)]
        return row
    finally:
        for process, _ in started:
            process.terminate()
        for process, _ in started:
            process.wait(timeout=60)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, help="an SQLite catalogue")
    parser.add_argument("--url", help="a database URL instead of --db (e.g. postgresql+psycopg://...)")
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--servers", help="e.g. 1,2: that many one-worker servers instead of --workers")
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=1, help="rounds of the cached views; the best rate is kept")
    parser.add_argument("--settle", type=float, default=600, metavar="S",
                        help="wait up to S seconds for the servers' start-up warm-up to end (CPU idle) before "
                             "measuring (default 600; 0: measure at once, the warm-up still running)")
    args = parser.parse_args()
    if bool(args.db) == bool(args.url):
        parser.error("give --db or --url")
    url = args.url or f"sqlite:///{args.db}"
    # (servers, workers per server) per row; the row is named by what varies.
    if args.servers:
        counts = [(n, 1) for n in map(int, args.servers.split(","))]
        unit = "servers"
    else:
        counts = [(1, n) for n in map(int, args.workers.split(","))]
        unit = "workers"
    words = ", ".join(f'"{w}"' for w in WORDS)
    scripts = {}
    with tempfile.TemporaryDirectory() as tmp:
        for label, prefix in (("unseen API", "/api/papers?q="), ("unseen page", "/?q=")):
            script = Path(tmp) / f"{label.replace(' ', '-')}.lua"
            script.write_text(UNSEEN_LUA % (words, prefix))
            scripts[label] = str(script)
        rows = {}
        for servers, workers in counts:
            n = servers if args.servers else workers
            rows[n] = measure(url, workers, args.duration, args.clients, scripts, args.rounds, servers, args.settle)
            print(f"{n} {unit}: {rows[n]}", file=sys.stderr)
    labels = [label for label, _, _ in VIEWS] + list(scripts)
    print(f"| {unit} | {' | '.join(labels)} | page/API | fragment/API | errors | RSS, PSS per worker (MB) "
          "| warm-up waited (s) | load |")
    print("|" + "---|" * (len(labels) + 7))
    for workers, row in rows.items():
        rates = " | ".join(f"{row[label]['rps']:.0f}" for label in labels)
        api = row["API JSON"]["rps"]
        errors = sum(row[label]["errors"] for label in labels)
        mem = ", ".join(f"{rss}/{pss}" for rss, pss in row["memory"])
        waited = f"{row['settled_s']:.0f}" + ("" if row["settled"] else " (not over)")
        print(f"| {workers} | {rates} | {row['page HTML']['rps'] / api:.2f} | {row['fragment']['rps'] / api:.2f}"
              f" | {errors} | {mem} | {waited} | {row['load']:.1f} |")
    print()
    print("Server CPU per request (ms, the workers' user + system time):")
    print()
    print(f"| {unit} | {' | '.join(labels)} | API/page | API/fragment |")
    print("|" + "---|" * (len(labels) + 3))
    for workers, row in rows.items():
        cpu = " | ".join(f"{row[label]['cpu_ms']:.1f}" for label in labels)
        api = row["API JSON"]["cpu_ms"]
        print(f"| {workers} | {cpu} | {api / row['page HTML']['cpu_ms']:.2f} | {api / row['fragment']['cpu_ms']:.2f} |")
    print()
    print("wrk's own CPU per request (ms; it runs on the same cores):", "; ".join(
        f"{n} {unit}: " + ", ".join(f"{row[label]['wrk_cpu_ms']:.2f}" for label in labels) for n, row in rows.items()))
    if 1 in rows and 2 in rows:
        print()
        print(f"two {unit} / one: " + ", ".join(f"{label} {rows[2][label]['rps'] / rows[1][label]['rps']:.2f}x"
                                                for label in labels))


if __name__ == "__main__":
    main()
