"""The benchmark harness, run tiny, so it cannot rot (the real run is too long for CI)."""

import json
import random
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # bench/ is a folder of the repository, not an installed package
    sys.path.insert(0, str(ROOT))

from bench.data import Synthesizer, _norm  # noqa: E402
from bench.queries import MIX  # noqa: E402


def test_quick_run_measures_every_stage_on_a_few_hundred_papers(tmp_path):
    out = tmp_path / "results.json"
    cmd = [sys.executable, "-m", "bench", "run", "--quick", "--sizes", "300", "--peers", "whoosh",
           "--concurrency", "2", "--duration", "1", "--loadgen", "python", "--budget", "0.001", "--out", str(out), "--no-readme"]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300,
                          env={**_env(), "BENCH_WORK_DIR": str(tmp_path / "work")})
    assert proc.returncode == 0, proc.stderr[-3000:]

    run = json.loads(out.read_text())["runs"]["300"]
    assert run["errors"] == {}, run["errors"]
    assert run["data"]["papers"] == 300
    assert run["ingest"]["app"]["counts"]["papers"] == 300
    assert run["ingest"]["app"]["papers_per_s"] > 0
    assert run["ingest"]["app_reingest"]["seconds"] > 0
    assert run["ingest"]["floor"]["papers"] == 300
    names = {q.name for q in MIX}
    assert set(run["search_inproc"]["queries"]) == names
    assert all("p50_ms" in e or "error" in e for e in run["search_inproc"]["queries"].values())
    assert set(run["floor_query"]) == names
    assert set(run["http"]["sequential"]["page"]) == names
    cells = run["http"]["load"]
    assert {(c["endpoint"], c["class"]) for c in cells} == {(e, k) for e in ("page", "fragment", "api")
                                                           for k in ("specific", "broad")}
    assert all(c["requests"] > 0 and c["server_rss_max_mb"] > 0 for c in cells)
    assert run["peers"]["whoosh"]["ingest"]["papers"] == 300
    assert set(run["peers"]["whoosh"]["queries"]) == names

    again = subprocess.run([*cmd, "--stages", "search", "--peers", ""], cwd=ROOT, capture_output=True, text=True,
                           timeout=120, env={**_env(), "BENCH_WORK_DIR": str(tmp_path / "work")})
    assert again.returncode == 0, again.stderr[-3000:]
    rerun = json.loads(out.read_text())["runs"]["300"]
    assert rerun["ingest"] == run["ingest"], "a partial run keeps the other stages' figures"
    assert rerun["stages"]["search in process"]["date"] > rerun["stages"]["ingest"]["date"]
    assert rerun["command"] == run["command"], "the header still names the run that built the database"


def test_synthetic_papers_have_new_ids_unique_titles_and_real_vocabulary():
    rng = random.Random(1)
    words = "model learning distillation pipeline expert parallelism attention graph data".split()
    real = [{"id": f"2501.{i:05d}", "title": " ".join(rng.choices(words, k=6)) + f" {i}",
             "abstract": ". ".join(" ".join(rng.choices(words, k=8)).capitalize() for _ in range(4)) + ".",
             "authors": [f"Author {rng.randint(1, 30)}" for _ in range(rng.randint(1, 5))],
             "published": "2025-01-02", "categories": ["cs.LG"]} for i in range(200)]

    made = list(Synthesizer(real).papers(1_000))

    assert len({p["id"] for p in made}) == 1_000
    assert not {p["id"] for p in made} & {r["id"] for r in real}
    titles = {_norm(p["title"]) for p in made} | {_norm(r["title"]) for r in real}
    assert len(titles) == 1_200
    vocabulary = {w.lower().strip(".") for r in real for w in r["abstract"].split()}
    assert all(w.lower().strip(".") in vocabulary for p in made for w in p["abstract"].split())
    assert {a for p in made for a in p["authors"]} <= {a for r in real for a in r["authors"]}


def _env() -> dict:
    import os

    return {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "DATA_DIR")}
