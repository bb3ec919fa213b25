"""Bounded load and soak test of `papers serve` on 127.0.0.1: throughput, latency percentiles and errors at
increasing concurrency, then a soak of several minutes with the server's memory sampled.

    .venv/bin/python -m bench.load_soak [--db PATH] [--levels 1,4,16,64] [--step 20] [--soak 300]
                                         [--soak-concurrency 8] [--workers 1] [--out FILE]

The database is the 165k-paper corpus catalogue when one is found (--db, /tmp/full2/papers.db,
bench/work/runs/165k/app/papers.db); it is copied (SQLite backup) under bench/work/load-soak/ so the
server never touches the original. The server is the real command (`papers serve --skip-check --no-seed`);
the load generator is wrk when installed (C, one thread, little CPU), else a thread pool in this process.
Everything is bounded: each step and the soak have a fixed duration, and the whole run has a ceiling.
Results go to bench/results/load-soak.json and a Markdown summary is printed for bench/README.md.
"""

import argparse
import http.client
import json
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
WORK = Path(os.environ.get("BENCH_WORK_DIR", ROOT / "bench" / "work")) / "load-soak"
RESULTS = ROOT / "bench" / "results" / "load-soak.json"
CANDIDATES = [Path("/tmp/full2/papers.db"), ROOT / "bench" / "work" / "runs" / "165k" / "app" / "papers.db"]
LOOPBACK = "127.0.0.1"
MAX_TOTAL_SECONDS = 3600

WRK_SCRIPT = r"""
local paths, index = {}, 0
function init(args)
  local file = assert(io.open(args[1], "r"))
  for line in file:lines() do if #line > 0 then paths[#paths + 1] = line end end
  file:close()
end
function request()
  index = index % #paths + 1
  return wrk.format("GET", paths[index])
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('RESULT {"requests": %d, "duration_us": %.0f, "connect": %d, "read": %d, "write": %d, ' ..
    '"status": %d, "timeout": %d, "p50_us": %.0f, "p90_us": %.0f, "p99_us": %.0f, "max_us": %.0f}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
"""

# What people do: specific and broad searches, filters, sorts, deep pages, permalinks, tag pages, feeds.
SEARCHES = [
    "/api/papers?q=knowledge+distillation", "/api/papers?q=mixture+of+experts", "/api/papers?q=GPipe",
    "/api/papers?q=pipeline+parallelism", "/api/papers?q=language+models", "/api/papers?q=model",
    "/api/papers?q=learning&tag=cs.LG", "/api/papers?tag=cs.CV&sort=newest", "/api/papers?q=model&page=50",
    "/api/papers?q=reinforcement+learning+from+human+feedback", "/api/papers?q=title:transformer&year=2025",
    "/api/papers?q=diffusion&not_tag=cs.CV", "/?q=retrieval+augmented+generation", "/?q=graph+neural+networks",
    "/?q=agents&tag=cs.AI", "/", "/tags", "/tags/cs.CL", "/tags/cs.LG?q=optimization", "/?q=speech&sort=oldest",
    "/feed.atom?q=robotics", "/api/papers?q=%22large+language+model%22+-survey", "/?q=distilation",
]


def find_database(explicit: str | None) -> Path:
    for candidate in [Path(explicit)] if explicit else CANDIDATES:
        if candidate.exists():
            return candidate
    sys.exit("no catalogue found: build one with "
             "`DATA_DIR=/tmp/full2 .venv/bin/papers ingest ../shared/corpus/arxiv-ai-2025-2026.jsonl.gz` or pass --db")


def private_copy(source: Path) -> Path:
    """A copy the server may open read-write (WAL files and all) without touching the original."""
    from app.sqlite_driver import sqlite3

    target = WORK / "papers.db"
    WORK.mkdir(parents=True, exist_ok=True)
    if target.exists() and target.stat().st_mtime >= source.stat().st_mtime:
        return target
    for suffix in ("", "-wal", "-shm"):
        Path(f"{target}{suffix}").unlink(missing_ok=True)
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    dst = sqlite3.connect(target)
    src.backup(dst)
    src.close()
    dst.close()
    return target


def paper_paths(db: Path, count: int, seed: int) -> list[str]:
    from app.sqlite_driver import sqlite3

    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    size = conn.execute("SELECT max(id) FROM papers").fetchone()[0]
    rng = random.Random(seed)
    keys = [row[0] for row in conn.execute(
        f"SELECT key FROM papers WHERE id IN ({','.join(str(rng.randrange(1, size)) for _ in range(count * 2))})")]
    conn.close()
    return [f"/papers/{quote(k, safe='/')}" for k in keys[:count]] + [f"/api/papers/{quote(k, safe='/')}"
                                                                      for k in keys[count:count * 2]]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return sock.getsockname()[1]


def rss_mb(pid: int) -> float | None:
    """Resident memory of the server and its children (uvicorn workers), from /proc."""
    total = 0.0
    for p in [pid, *children(pid)]:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) / 1024
        except OSError:
            continue
    return round(total, 1) if total else None


def children(pid: int) -> list[int]:
    try:
        found = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return []
    out = [int(c) for c in found]
    for child in list(out):
        out += children(child)
    return out


class Server:
    def __init__(self, db: Path, workers: int):
        self.port = free_port()
        self.base = f"http://{LOOPBACK}:{self.port}"
        env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "BASE_URL")}
        env["DATA_DIR"] = str(db.parent)
        papers = Path(sys.executable).with_name("papers")
        command = [str(papers)] if papers.exists() else [sys.executable, "-m", "app.cli"]
        self.log_path = WORK / f"server-{self.port}.log"
        self.log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen([*command, "serve", "--host", LOOPBACK, "--port", str(self.port),
                                      "--workers", str(workers), "--log-level", "warning", "--skip-check",
                                      "--no-seed"], env=env, cwd=ROOT, stdout=self.log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"server exited:\n{self.log_path.read_text()[-2000:]}")
            try:
                status, _ = get(self.port, "/health", timeout=5)
                if status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        self.stop()
        raise SystemExit("server did not answer /health in 180 s")

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.log.close()


def get(port: int, path: str, timeout: float = 60) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection(LOOPBACK, port, timeout=timeout)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


class MemorySampler:
    def __init__(self, pid: int, every: float):
        self.pid, self.every, self.samples = pid, every, []
        self.started = time.monotonic()
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stopped.is_set():
            value = rss_mb(self.pid)
            if value:
                self.samples.append((round(time.monotonic() - self.started, 1), value))
            self.stopped.wait(self.every)

    def stop(self) -> list[tuple[float, float]]:
        self.stopped.set()
        self.thread.join()
        return self.samples


def wrk_run(base: str, paths_file: Path, script: Path, concurrency: int, seconds: float) -> dict:
    command = ["wrk", "-t", "1", "-c", str(concurrency), "-d", f"{seconds:g}s", "--timeout", "30s", "-s",
               str(script), base, "--", str(paths_file)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60)
    line = next((ln for ln in done.stdout.splitlines() if ln.startswith("RESULT ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no result: {done.stdout[-500:]} {done.stderr[-500:]}")
    raw = json.loads(line.removeprefix("RESULT "))
    elapsed = raw["duration_us"] / 1e6
    errors = {k: raw[k] for k in ("connect", "read", "write", "status", "timeout") if raw[k]}
    return {"requests": raw["requests"], "seconds": round(elapsed, 1),
            "req_per_s": round(raw["requests"] / elapsed, 1), "p50_ms": round(raw["p50_us"] / 1000, 1),
            "p90_ms": round(raw["p90_us"] / 1000, 1), "p99_ms": round(raw["p99_us"] / 1000, 1),
            "max_ms": round(raw["max_us"] / 1000, 1), "errors": sum(errors.values()), "error_kinds": errors}


def thread_run(port: int, paths: list[str], concurrency: int, seconds: float) -> dict:
    """Fallback without wrk: `concurrency` threads with keep-alive connections (shares the CPU with the server)."""
    latencies: list[float] = []
    errors = {"status": 0, "socket": 0}
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def worker(offset: int) -> None:
        conn = http.client.HTTPConnection(LOOPBACK, port, timeout=30)
        n = offset
        while time.monotonic() < deadline:
            path = paths[n % len(paths)]
            n += 1
            began = time.perf_counter()
            try:
                conn.request("GET", path)
                response = conn.getresponse()
                response.read()
                bad = response.status >= 400
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection(LOOPBACK, port, timeout=30)
                with lock:
                    errors["socket"] += 1
                continue
            with lock:
                latencies.append((time.perf_counter() - began) * 1000)
                errors["status"] += bad
        conn.close()

    threads = [threading.Thread(target=worker, args=(i * 7,)) for i in range(concurrency)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    ordered = sorted(latencies) or [0.0]

    def pct(p: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))], 1)

    return {"requests": len(latencies), "seconds": round(elapsed, 1), "req_per_s": round(len(latencies) / elapsed, 1),
            "p50_ms": pct(50), "p90_ms": pct(90), "p99_ms": pct(99), "max_ms": round(ordered[-1], 1),
            "errors": sum(errors.values()), "error_kinds": {k: v for k, v in errors.items() if v}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", help="catalogue to serve (copied first)")
    parser.add_argument("--levels", default="1,4,16,64", help="concurrency steps")
    parser.add_argument("--step", type=float, default=20, help="seconds per concurrency step")
    parser.add_argument("--soak", type=float, default=300, help="soak seconds (0: none)")
    parser.add_argument("--soak-concurrency", type=int, default=8)
    parser.add_argument("--soak-chunk", type=float, default=30, help="soak reported in chunks of this many seconds")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    parser.add_argument("--permalinks", type=int, default=40, help="random paper pages and API records in the mix")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--out", default=str(RESULTS))
    args = parser.parse_args()
    levels = [int(x) for x in args.levels.split(",") if x]
    planned = len(levels) * args.step + args.soak
    if planned > MAX_TOTAL_SECONDS:
        sys.exit(f"{planned:.0f} s of load planned; the ceiling is {MAX_TOTAL_SECONDS} s")

    source = find_database(args.db)
    db = private_copy(source)
    paths = SEARCHES + paper_paths(db, args.permalinks, args.seed)
    random.Random(args.seed).shuffle(paths)
    use_wrk = shutil.which("wrk") is not None
    scratch = Path(tempfile.mkdtemp(prefix="load-soak-"))
    paths_file, script = scratch / "paths.txt", scratch / "report.lua"
    paths_file.write_text("\n".join(paths) + "\n")
    script.write_text(WRK_SCRIPT)

    print(f"serving {db} ({db.stat().st_size / 1e6:.0f} MB) with {args.workers} worker(s); "
          f"load from {'wrk' if use_wrk else 'threads'}; {len(paths)} paths", file=sys.stderr)
    started = time.monotonic()
    server = Server(db, args.workers)
    report: dict = {"database": str(source), "papers": None, "workers": args.workers,
                    "loadgen": "wrk" if use_wrk else "python threads", "paths": len(paths),
                    "cpus": os.cpu_count(), "date": time.strftime("%Y-%m-%d %H:%M"), "steps": [], "soak": None}
    try:
        report["papers"] = json.loads(get(server.port, "/health")[1])["papers"]
        report["startup_s"] = round(time.monotonic() - started, 1)
        report["rss_idle_mb"] = rss_mb(server.proc.pid)
        answers = {path: get(server.port, path)[0] for path in paths}  # also warms the caches
        report["dropped_paths"] = {path: status for path, status in answers.items() if status != 200}
        paths[:] = [path for path in paths if answers[path] == 200]  # every error under load is then real
        paths_file.write_text("\n".join(paths) + "\n")
        report["paths"] = len(paths)
        report["rss_warm_mb"] = rss_mb(server.proc.pid)

        def run(concurrency: int, seconds: float) -> dict:
            if use_wrk:
                return wrk_run(server.base, paths_file, script, concurrency, seconds)
            return thread_run(server.port, paths, concurrency, seconds)

        for level in levels:
            sampler = MemorySampler(server.proc.pid, 1.0)
            result = run(level, args.step)
            memory = [m for _, m in sampler.stop()]
            result.update(concurrency=level, rss_max_mb=max(memory, default=None))
            report["steps"].append(result)
            print(f"c={level}: {result['req_per_s']} req/s, p50 {result['p50_ms']} ms, p99 {result['p99_ms']} ms, "
                  f"errors {result['errors']}, rss {result['rss_max_mb']} MB", file=sys.stderr)

        if args.soak > 0:
            sampler = MemorySampler(server.proc.pid, 5.0)
            chunks = []
            remaining = args.soak
            while remaining > 0:
                seconds = min(args.soak_chunk, remaining)
                chunk = run(args.soak_concurrency, seconds)
                chunk["at_s"] = round(args.soak - remaining + seconds)
                chunk["rss_mb"] = rss_mb(server.proc.pid)
                chunks.append(chunk)
                remaining -= seconds
                print(f"soak {chunk['at_s']:.0f}s: {chunk['req_per_s']} req/s, p99 {chunk['p99_ms']} ms, "
                      f"errors {chunk['errors']}, rss {chunk['rss_mb']} MB", file=sys.stderr)
            memory = sampler.stop()
            values = [m for _, m in memory]
            half = len(values) // 2
            report["soak"] = {
                "concurrency": args.soak_concurrency, "seconds": args.soak,
                "requests": sum(c["requests"] for c in chunks), "errors": sum(c["errors"] for c in chunks),
                "req_per_s": round(statistics.mean(c["req_per_s"] for c in chunks), 1),
                "p99_ms_worst_chunk": max(c["p99_ms"] for c in chunks),
                "rss_start_mb": values[0] if values else None, "rss_end_mb": values[-1] if values else None,
                "rss_max_mb": max(values, default=None),
                "rss_mean_first_half_mb": round(statistics.mean(values[:half]), 1) if half else None,
                "rss_mean_second_half_mb": round(statistics.mean(values[half:]), 1) if half else None,
                "chunks": chunks, "rss_samples": memory}
        log = server.log_path.read_text(errors="replace")
        report["server_log"] = {"tracebacks": log.count("Traceback"),
                                "database_locked": log.lower().count("database is locked")}
    finally:
        server.stop()
        shutil.rmtree(scratch, ignore_errors=True)
    report["total_s"] = round(time.monotonic() - started, 1)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=1) + "\n")
    print(markdown(report))


def markdown(report: dict) -> str:
    lines = [f"{report['papers']:,} papers, {report['workers']} uvicorn worker, load from {report['loadgen']} on "
             f"the same {report['cpus']}-core machine, {report['paths']} request paths in rotation "
             f"({report['date']}). Server RSS idle {report['rss_idle_mb']} MB, warm {report['rss_warm_mb']} MB.",
             "", "| clients | req/s | p50 ms | p90 ms | p99 ms | max ms | errors | server RSS max MB |",
             "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for s in report["steps"]:
        lines.append(f"| {s['concurrency']} | {s['req_per_s']} | {s['p50_ms']} | {s['p90_ms']} | {s['p99_ms']} | "
                     f"{s['max_ms']} | {s['errors']} | {s['rss_max_mb']} |")
    soak = report.get("soak")
    if soak:
        lines += ["", f"Soak: {soak['concurrency']} clients for {soak['seconds'] / 60:.0f} min, "
                      f"{soak['requests']:,} requests, {soak['errors']} errors, {soak['req_per_s']} req/s on average, "
                      f"worst p99 of a {report['soak']['chunks'][0]['seconds']:.0f}-second window "
                      f"{soak['p99_ms_worst_chunk']} ms. Server RSS {soak['rss_start_mb']} MB at the start, "
                      f"{soak['rss_end_mb']} MB at the end, {soak['rss_max_mb']} MB at most; mean "
                      f"{soak['rss_mean_first_half_mb']} MB over the first half, "
                      f"{soak['rss_mean_second_half_mb']} MB over the second."]
    if report.get("dropped_paths"):
        lines += ["", f"Left out of the rotation (not 200 on this catalogue): {report['dropped_paths']}."]
    log = report.get("server_log", {})
    lines += ["", f"Server log: {log.get('tracebacks', '?')} tracebacks, "
                  f"{log.get('database_locked', '?')} \"database is locked\"."]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
