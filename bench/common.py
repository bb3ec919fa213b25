"""Paths, percentiles, machine facts and measured subprocesses, shared by every stage.

Nothing here imports the app or a peer: this module is loaded by the main
virtualenv and by bench/.venv-peers alike.
"""

import json
import os
import platform
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
PROJECT_ROOT = BENCH_DIR.parent
WORK_DIR = Path(os.environ.get("BENCH_WORK_DIR") or BENCH_DIR / "work")
RESULTS_DIR = BENCH_DIR / "results"
MAIN_PYTHON = PROJECT_ROOT / ".venv" / "bin" / "python"
PEERS_VENV = BENCH_DIR / ".venv-peers"
PEERS_PYTHON = PEERS_VENV / "bin" / "python"
# The app's PAPERS_CORPUS setting, read the same way (this module does not import the app).
CORPUS = Path(os.environ.get("PAPERS_CORPUS")
              or PROJECT_ROOT.parent / "shared" / "corpus" / "arxiv-ai-2025-2026.jsonl.gz")
FTS_TOKENIZER = "porter unicode61 remove_diacritics 2"


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def percentile(values: list[float], pct: float) -> float | None:
    """Nearest-rank percentile: p99 of fewer than 100 samples is the maximum, never interpolated down."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * pct // 100))
    return ordered[int(rank) - 1]


def latency_summary(samples_ms: list[float]) -> dict:
    return {
        "n": len(samples_ms),
        "p50_ms": _round(percentile(samples_ms, 50)),
        "p99_ms": _round(percentile(samples_ms, 99)),
        "max_ms": _round(max(samples_ms)) if samples_ms else None,
        "mean_ms": _round(sum(samples_ms) / len(samples_ms)) if samples_ms else None,
    }


def _round(value: float | None, digits: int = 2) -> float | None:
    return None if value is None else round(value, digits)


def timed_repeats(fn, *, reps: int, budget_s: float, warmup: int = 1) -> list[float]:
    """Call fn up to `reps` times (after warmup), stopping early once `budget_s` is spent; ms per call."""
    for _ in range(warmup):
        fn()
    samples: list[float] = []
    deadline = time.perf_counter() + budget_s
    while len(samples) < reps:
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
        if time.perf_counter() > deadline and len(samples) >= enough(samples, budget_s):
            break
    return samples


def enough(samples_ms: list[float], budget_s: float) -> int:
    """Repeats needed before the time budget may stop a query: 3, or 1 when one call eats a third of it."""
    return 1 if samples_ms and max(samples_ms) > budget_s * 1000 / 3 else 3


def parse_size(label: str) -> int:
    text = label.strip().lower()
    factor = 1
    if text.endswith("k"):
        factor, text = 1_000, text[:-1]
    elif text.endswith("m"):
        factor, text = 1_000_000, text[:-1]
    return int(float(text) * factor)


def size_label(n: int) -> str:
    if n >= 1_000_000 and n % 1_000_000 == 0:
        return f"{n // 1_000_000}m"
    if n >= 1_000:
        return f"{round(n / 1_000)}k"
    return str(n)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def file_size(*paths: Path) -> int:
    return sum(p.stat().st_size for p in paths if p.exists())


def tree_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def rss_mb(pid: int, field: str = "VmRSS") -> float | None:
    """Resident memory of a live process from /proc (VmHWM is its peak so far)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None


@dataclass
class Measured:
    returncode: int
    wall_s: float
    cpu_s: float
    max_rss_mb: float
    stdout: str
    stderr: str

    def check(self, what: str) -> "Measured":
        if self.returncode != 0:
            tail = "\n".join(self.stderr.strip().splitlines()[-15:])
            raise RuntimeError(f"{what} failed with exit status {self.returncode}:\n{tail}")
        return self


def run_measured(cmd: list[str], *, env: dict | None = None, timeout_s: float = 3600,
                 stdin_path: Path | None = None, cwd: Path = PROJECT_ROOT) -> Measured:
    """Run a command to completion: wall time, CPU time and peak RSS of that process alone (wait4)."""
    work = WORK_DIR / "logs"
    work.mkdir(parents=True, exist_ok=True)
    stamp = f"{os.getpid()}-{time.monotonic_ns()}"
    out_path, err_path = work / f"{stamp}.out", work / f"{stamp}.err"
    full_env = {**os.environ, **(env or {})}
    with open(out_path, "wb") as out, open(err_path, "wb") as err, \
            (open(stdin_path, "rb") if stdin_path else open(os.devnull, "rb")) as stdin:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdin=stdin, stdout=out, stderr=err, env=full_env, cwd=cwd,
                                start_new_session=True)
        deadline = start + timeout_s
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() > deadline:
                os.killpg(proc.pid, signal.SIGKILL)
                pid, status, usage = os.wait4(proc.pid, 0)
                status = -1
                break
            time.sleep(0.02)
        wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status) if status != -1 else -9
    result = Measured(proc.returncode, wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024,
                      out_path.read_text(errors="replace"), err_path.read_text(errors="replace"))
    out_path.unlink(missing_ok=True)
    err_path.unlink(missing_ok=True)
    if status == -1:
        result.stderr += f"\n(killed after the {timeout_s:.0f} s bound)"
    return result


def run_json(cmd: list[str], *, what: str, env: dict | None = None, timeout_s: float = 3600,
             cwd: Path = PROJECT_ROOT) -> dict:
    """Run a bench entry point that prints one JSON document on stdout."""
    measured = run_measured(cmd, env=env, timeout_s=timeout_s, cwd=cwd).check(what)
    return json.loads(measured.stdout)


def machine() -> dict:
    """The facts a reader needs to compare figures: cores, memory, CPU, SQLite, load at start."""
    mem_kb = 0
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            mem_kb = int(line.split()[1])
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    from app.sqlite_driver import sqlite3
    sqlite_version = sqlite3.sqlite_version
    return {
        "cores": os.cpu_count(),
        "memory_gb": round(mem_kb / 1024 / 1024, 1),
        "cpu": cpu,
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "sqlite": sqlite_version,
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }


class AppTree:
    """Which copy of the app is measured: a snapshot of a commit (default HEAD), or the work tree.

    A snapshot (`git archive` into bench/work/app-trees/) keeps a long run on one
    version while other people edit the work tree, and names what was measured.
    Every process that imports the app runs with the snapshot first on its path.
    """

    def __init__(self, rev: str = "HEAD"):
        self.rev = rev
        if rev == "worktree":
            self.root, self.label = PROJECT_ROOT, git_commit()
            return
        sha = subprocess.run(["git", "rev-parse", "--short", rev], cwd=PROJECT_ROOT, capture_output=True,
                             text=True, check=True).stdout.strip()
        self.root, self.label = WORK_DIR / "app-trees" / sha, sha
        if not self.root.exists():
            tmp = self.root.with_name(sha + ".tmp")
            subprocess.run(["rm", "-rf", str(tmp)], check=True)
            tmp.mkdir(parents=True)
            archive = subprocess.Popen(["git", "archive", sha, "app", "migrations", "templates", "static",
                                        "alembic.ini"], cwd=PROJECT_ROOT, stdout=subprocess.PIPE)
            subprocess.run(["tar", "-x", "-C", str(tmp)], stdin=archive.stdout, check=True)
            if archive.wait() != 0:
                raise RuntimeError(f"git archive {sha} failed")
            tmp.rename(self.root)

    def env(self, **extra: str) -> dict:
        return {"PYTHONPATH": f"{self.root}:{PROJECT_ROOT}", **extra}


def git_commit() -> str:
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=PROJECT_ROOT, capture_output=True,
                              text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "app", "migrations", "templates"],
                               cwd=PROJECT_ROOT, capture_output=True, text=True).stdout.strip()
        return head + ("+uncommitted-app-changes" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def now_iso() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
