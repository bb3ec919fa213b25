"""Serving throughput and memory at 1, 2, 4 uvicorn workers (`papers serve --workers N`), with wrk.

    .venv/bin/python -m bench.workers --db PATH/papers.db [--workers 1,2,4] [--duration 10] [--clients 20]

For each worker count: the server on a private copy of the catalogue, every worker warmed (its
in-memory catalogue built, the measured views cached), then wrk on the same query as JSON, HTML
page and htmx fragment, on /health, and on never-seen queries (every request a new query and page,
so nothing is cached). Memory is each worker's resident and proportional set size (PSS counts
pages shared between workers once). Prints one Markdown table; absolute figures drift on a shared
machine, so compare within one run.
"""

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
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
    return {"rps": rate, "errors": (int(bad.group(1)) if bad else 0) + (sum(map(int, errors.groups())) if errors else 0)}


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


def serve(db: Path, workers: int):
    port = free_port()
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{db}"}
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
    """Every worker builds its catalogue and caches the measured views: enough requests to reach each."""
    for _ in range(10 * workers):
        for _, path, extra in VIEWS:
            request = urllib.request.Request(base + path, headers=dict([extra[1].split(": ")]) if extra else {})
            urllib.request.urlopen(request, timeout=120).read()


def measure(db: Path, workers: int, duration: int, clients: int, scripts: dict) -> dict:
    process, base = serve(db, workers)
    try:
        warm(base, workers)
        row = {label: wrk(base, path, extra, duration, clients) for label, path, extra in VIEWS}
        for label, script in scripts.items():
            row[label] = wrk(base, "", [], duration, clients, script)
        row["memory"] = memory(process.pid)
        return row
    finally:
        process.terminate()
        process.wait(timeout=60)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, required=True)
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--clients", type=int, default=20)
    args = parser.parse_args()
    words = ", ".join(f'"{w}"' for w in WORDS)
    scripts = {}
    with tempfile.TemporaryDirectory() as tmp:
        for label, prefix in (("unseen API", "/api/papers?q="), ("unseen page", "/?q=")):
            script = Path(tmp) / f"{label.replace(' ', '-')}.lua"
            script.write_text(UNSEEN_LUA % (words, prefix))
            scripts[label] = str(script)
        rows = {}
        for workers in map(int, args.workers.split(",")):
            rows[workers] = measure(args.db, workers, args.duration, args.clients, scripts)
            print(f"{workers} workers: {rows[workers]}", file=sys.stderr)
    labels = [label for label, _, _ in VIEWS] + list(scripts)
    print(f"| workers | {' | '.join(labels)} | page/API | fragment/API | errors | RSS, PSS per worker (MB) |")
    print("|" + "---|" * (len(labels) + 5))
    for workers, row in rows.items():
        rates = " | ".join(f"{row[label]['rps']:.0f}" for label in labels)
        api = row["API JSON"]["rps"]
        errors = sum(row[label]["errors"] for label in labels)
        mem = ", ".join(f"{rss}/{pss}" for rss, pss in row["memory"])
        print(f"| {workers} | {rates} | {row['page HTML']['rps'] / api:.2f} | {row['fragment']['rps'] / api:.2f}"
              f" | {errors} | {mem} |")


if __name__ == "__main__":
    main()
