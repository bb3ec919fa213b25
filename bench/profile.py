"""Where the time goes: py-spy samples the server under load, or an ingest, and we sum the stacks.

    .venv/bin/python -m bench profile server --db bench/work/runs/165k/app/papers.db --endpoint page --class broad
    .venv/bin/python -m bench profile ingest --file bench/work/data/....jsonl.gz

Writes the collapsed stacks (flamegraph input) to bench/work/profiles/ and prints
the functions with the largest inclusive and self shares of the samples. Under
concurrent load, wall-clock samples also count threads waiting for the GIL in
the frame that waits; `--gil` samples only the thread holding it (Python CPU).
"""

import collections
import os
import shutil
import subprocess
import time
from pathlib import Path

from bench.common import PEERS_VENV, PROJECT_ROOT, WORK_DIR, log
from bench.http import app_server, load_test
from bench.queries import LOAD_CLASSES

PY_SPY = PEERS_VENV / "bin" / "py-spy"
ENDPOINT_PREFIX = {"page": ("/?", {}), "fragment": ("/?", {"HX-Request": "true"}), "api": ("/api/papers?", {})}


def summarize(collapsed: Path, top: int = 25) -> str:
    inclusive: collections.Counter = collections.Counter()
    self_time: collections.Counter = collections.Counter()
    total = 0
    for line in collapsed.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack:
            continue
        count = int(count_text)
        total += count
        frames = [f.split(" (")[0] + " (" + f.split(" (")[1].split(":")[0].rsplit("/", 1)[-1] + ")"
                  if " (" in f else f for f in stack.split(";")]
        for frame in set(frames):
            inclusive[frame] += count
        self_time[frames[-1]] += count
    lines = [f"{total} samples", "", "inclusive:"]
    lines += [f"  {100 * c / total:5.1f}%  {f}" for f, c in inclusive.most_common(top)]
    lines += ["", "self:"]
    lines += [f"  {100 * c / total:5.1f}%  {f}" for f, c in self_time.most_common(top)]
    return "\n".join(lines)


def _out(name: str) -> Path:
    directory = WORK_DIR / "profiles"
    directory.mkdir(parents=True, exist_ok=True)
    return directory / f"{name}-{time.strftime('%Y%m%d-%H%M%S')}.txt"


def profile_server(db: Path, endpoint: str, kind: str, concurrency: int, seconds: float, gil: bool = False) -> Path:
    prefix, headers = ENDPOINT_PREFIX[endpoint]
    paths = [prefix + q.app_query_string() for q in LOAD_CLASSES[kind]]
    out = _out(f"server-{endpoint}-{kind}")
    with app_server(db) as server:
        spy = subprocess.Popen([str(PY_SPY), "record", "-p", str(server.pid), "-d", f"{seconds:.0f}", "-r", "200",
                                "--format", "raw", "-o", str(out), "--nonblocking", *(["--gil"] if gil else [])],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        time.sleep(1)
        result = load_test(server, paths, concurrency=concurrency, duration_s=seconds - 2, headers=headers)
        spy.wait(seconds + 30)
    log(f"under profiling: {result.get('req_per_s')} req/s, p99 {result.get('p99_ms')} ms")
    return out


def profile_ingest(source: Path) -> Path:
    out = _out("ingest")
    target = WORK_DIR / "profiles" / "ingest-db"
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{target / 'papers.db'}"}
    subprocess.run([str(PY_SPY), "record", "-r", "200", "--format", "raw", "-o", str(out), "--",
                    str(PROJECT_ROOT / ".venv" / "bin" / "papers"), "ingest", str(source), "--quiet"],
                   env=env, check=True, stdout=subprocess.DEVNULL)
    return out


def main(args) -> int:
    if not PY_SPY.exists():
        log("py-spy is installed with the peers: bench/.venv-peers/bin/pip install -r bench/requirements.txt")
        return 2
    if args.target == "server":
        out = profile_server(Path(args.db).resolve(), args.endpoint, args.kind, args.concurrency, args.seconds,
                             gil=args.gil)
    else:
        out = profile_ingest(Path(args.file).resolve())
    print(summarize(out))
    log(f"collapsed stacks in {out}")
    return 0
