"""Servers on 127.0.0.1 only, sequential latency per query, and bounded load tests.

The load generator is wrk (Debian package `wrk`) when present: it is written in C
and takes little of the two cores the server needs. Without it, a small asyncio
generator over httpx stands in, and the results say which one ran.
"""

import asyncio
import os
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path

import httpx
import orjson

from bench.common import (BENCH_DIR, MAIN_PYTHON, PEERS_VENV, WORK_DIR, AppTree, enough, free_port, latency_summary,
                          log, rss_mb)

LOOPBACK = "127.0.0.1"


class Server:
    """A server process started by us on loopback; stopped (its own process group) on exit."""

    def __init__(self, name: str, cmd: list[str], port: int, ready_path: str, env: dict | None = None,
                 cwd: Path = BENCH_DIR.parent):
        self.name, self.cmd, self.port, self.ready_path, self.cwd = name, cmd, port, ready_path, cwd
        self.env = {**os.environ, **(env or {})}
        self.base = f"http://{LOOPBACK}:{port}"
        self.proc: subprocess.Popen | None = None
        self.log_path = WORK_DIR / "logs" / f"server-{name}-{port}.log"

    def __enter__(self) -> "Server":
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in __exit__
        self.proc = subprocess.Popen(self.cmd, stdout=self._log, stderr=subprocess.STDOUT, env=self.env,
                                     cwd=self.cwd, start_new_session=True)
        self.started = time.perf_counter()
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited at start:\n{self.log_path.read_text()[-2000:]}")
            try:
                if httpx.get(self.base + self.ready_path, timeout=5).status_code < 500:
                    self.startup_s = time.perf_counter() - self.started
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.__exit__(None, None, None)
        raise RuntimeError(f"{self.name} did not answer {self.ready_path} within 120 s")

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def rss(self) -> dict:
        # RssFile is the database file mapped in (shared page cache); RssAnon is the process's own heap.
        return {"rss_mb": rss_mb(self.pid), "peak_rss_mb": rss_mb(self.pid, "VmHWM"),
                "anon_mb": rss_mb(self.pid, "RssAnon"), "file_mb": rss_mb(self.pid, "RssFile")}

    def __exit__(self, *exc) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self._log.close()


def app_server(db: Path, tree: AppTree | None = None) -> Server:
    tree = tree or AppTree("worktree")
    port = free_port()
    cmd = [str(MAIN_PYTHON), "-m", "uvicorn", "app.main:app", "--app-dir", str(tree.root), "--host", LOOPBACK,
           "--port", str(port), "--log-level", "warning", "--no-access-log"]
    return Server("app", cmd, port, "/health", env=tree.env(DATABASE_URL=f"sqlite:///{db}"), cwd=tree.root)


def datasette_server(db: Path) -> Server:
    port = free_port()
    # Time limits raised so Datasette finishes the same work instead of answering "timed out";
    # suggested facets off so it computes only the facet we ask for; immutable: its fastest mode.
    cmd = [str(PEERS_VENV / "bin" / "datasette"), "serve", "-i", str(db), "-h", LOOPBACK, "-p", str(port),
           "--setting", "sql_time_limit_ms", "60000", "--setting", "facet_time_limit_ms", "60000",
           "--setting", "suggest_facets", "off", "--setting", "default_page_size", "20"]
    return Server("datasette", cmd, port, "/-/versions.json")


def sequential(base: str, paths: dict[str, str], *, headers: dict | None = None, reps: int,
               budget_s: float, timeout_s: float = 60) -> dict:
    """One client, one request at a time: latency per query (keep-alive connection, warm)."""
    out = {}
    with httpx.Client(base_url=base, headers=headers or {}, timeout=timeout_s) as client:
        for name, path in paths.items():
            samples: list[float] = []
            entry: dict = {}
            try:
                first = client.get(path)
                entry["status"] = first.status_code
                entry["bytes"] = len(first.content)
                if first.headers.get("content-type", "").startswith("application/json"):
                    body = first.json()
                    if isinstance(body, dict):  # Datasette's count, or our API's total
                        for key in ("filtered_table_rows_count", "total"):
                            if isinstance(body.get(key), int):
                                entry["matches"] = body[key]
                if first.status_code != 200:
                    entry["error"] = f"HTTP {first.status_code}: {first.text[:200]}"
                    out[name] = entry
                    continue
                deadline = time.perf_counter() + budget_s
                while len(samples) < reps:
                    start = time.perf_counter()
                    response = client.get(path)
                    samples.append((time.perf_counter() - start) * 1000)
                    if response.status_code != 200:
                        entry["error"] = f"HTTP {response.status_code} on repeat"
                        break
                    if time.perf_counter() > deadline and len(samples) >= enough(samples, budget_s):
                        break
            except httpx.HTTPError as exc:
                entry["error"] = f"{type(exc).__name__}: {exc}"[:300]
            entry.update(latency_summary(samples))
            out[name] = entry
    return out


def loadgen_available() -> str:
    return "wrk" if shutil.which("wrk") else "python"


def load_test(server: Server, paths: list[str], *, concurrency: int, duration_s: float,
              headers: dict | None = None, loadgen: str = "auto", timeout_s: float = 30) -> dict:
    """A bounded load: `concurrency` clients for `duration_s` seconds; req/s, latency, errors, server RSS."""
    loadgen = loadgen_available() if loadgen == "auto" else loadgen
    peak = {"rss_mb": 0.0}
    stop = threading.Event()

    def sample_rss() -> None:
        while not stop.is_set():
            value = rss_mb(server.pid) or 0.0
            peak["rss_mb"] = max(peak["rss_mb"], value)
            stop.wait(0.2)

    sampler = threading.Thread(target=sample_rss, daemon=True)
    sampler.start()
    try:
        if loadgen == "wrk":
            result = _wrk(server.base, paths, concurrency, duration_s, headers or {}, timeout_s)
        else:
            result = asyncio.run(_python_load(server.base, paths, concurrency, duration_s, headers or {},
                                              timeout_s))
    finally:
        stop.set()
        sampler.join()
    result.update({"loadgen": loadgen, "concurrency": concurrency, "server_rss_max_mb": peak["rss_mb"],
                   "server_peak_rss_mb": rss_mb(server.pid, "VmHWM")})
    return result


def _wrk(base: str, paths: list[str], concurrency: int, duration_s: float, headers: dict,
         timeout_s: float) -> dict:
    paths_file = WORK_DIR / "logs" / f"paths-{os.getpid()}-{time.monotonic_ns()}.txt"
    paths_file.parent.mkdir(parents=True, exist_ok=True)
    paths_file.write_text("\n".join(paths) + "\n")
    cmd = ["wrk", "-t", "1", "-c", str(concurrency), "-d", f"{duration_s:g}s", "--timeout", f"{timeout_s:g}s",
           "-s", str(BENCH_DIR / "wrk_report.lua")]
    for name, value in headers.items():
        cmd += ["-H", f"{name}: {value}"]
    cmd += [base, "--", str(paths_file)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=duration_s + timeout_s + 30)
    paths_file.unlink(missing_ok=True)
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("BENCHJSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no result:\n{proc.stdout[-1000:]}\n{proc.stderr[-1000:]}")
    raw = orjson.loads(line.removeprefix("BENCHJSON "))
    seconds = raw["duration_us"] / 1e6
    errors = sum(raw[k] for k in ("connect_errors", "read_errors", "write_errors", "status_errors", "timeouts"))
    return {"requests": raw["requests"], "seconds": round(seconds, 2),
            "req_per_s": round(raw["requests"] / seconds, 1) if seconds else None,
            "p50_ms": round(raw["p50_us"] / 1000, 2), "p90_ms": round(raw["p90_us"] / 1000, 2),
            "p99_ms": round(raw["p99_us"] / 1000, 2), "max_ms": round(raw["max_us"] / 1000, 2),
            "errors": errors, "error_detail": {k: raw[k] for k in ("connect_errors", "read_errors", "write_errors",
                                                                   "status_errors", "timeouts") if raw[k]}}


async def _python_load(base: str, paths: list[str], concurrency: int, duration_s: float, headers: dict,
                       timeout_s: float) -> dict:
    latencies: list[float] = []
    errors = {"status_errors": 0, "other_errors": 0}
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    start = time.perf_counter()
    deadline = start + duration_s
    counter = iter(range(10**9))

    async with httpx.AsyncClient(base_url=base, headers=headers, limits=limits, timeout=timeout_s) as client:
        async def worker() -> None:
            while time.perf_counter() < deadline:
                path = paths[next(counter) % len(paths)]
                began = time.perf_counter()
                try:
                    response = await client.get(path)
                    if response.status_code >= 400:
                        errors["status_errors"] += 1
                except httpx.HTTPError:
                    errors["other_errors"] += 1
                latencies.append((time.perf_counter() - began) * 1000)

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    seconds = time.perf_counter() - start
    summary = latency_summary(latencies)
    return {"requests": len(latencies), "seconds": round(seconds, 2),
            "req_per_s": round(len(latencies) / seconds, 1), "p50_ms": summary["p50_ms"],
            "p99_ms": summary["p99_ms"], "max_ms": summary["max_ms"], "errors": sum(errors.values()),
            "error_detail": {k: v for k, v in errors.items() if v}}


def log_server_tail(server: Server) -> None:
    try:
        tail = server.log_path.read_text(errors="replace")[-1500:]
    except OSError:
        return
    if tail.strip():
        log(f"{server.name} log tail:\n{tail}")
