"""The scaling plot: query latency and ingest time against corpus size.

Run with the peers virtualenv (matplotlib): `python -m bench.plot RESULTS.json OUT.png`.
"""

import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402 - after choosing the backend

from bench.common import parse_size  # noqa: E402

BROAD, SPECIFIC = "broad: model", "specific: knowledge distillation"


def _get(node, *keys):
    for key in keys:
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return node


def main() -> None:
    results = json.loads(Path(sys.argv[1]).read_text())
    out = Path(sys.argv[2])
    labels = sorted(results.get("runs", {}), key=parse_size)
    runs = [results["runs"][label] for label in labels]
    papers = [_get(run, "data", "papers") or parse_size(label) for run, label in zip(runs, labels)]

    fig, (lat, ing) = plt.subplots(1, 2, figsize=(14, 7.5))
    series = {
        "ours, HTTP page": ("http", "sequential", "page", "{q}"),
        "ours, search.run": ("search_inproc", "queries", "{q}"),
        "FTS5 floor, faceted": ("floor_query", "{q}", "faceted"),
        "FTS5 floor, top 20": ("floor_query", "{q}", "top20"),
        "tantivy, faceted": ("peers", "tantivy", "queries", "{q}", "faceted"),
        "Datasette, faceted": ("peers", "datasette", "serve", "sequential", "{q}"),
    }
    colors = dict(zip(series, ["C0", "C1", "C2", "C7", "C3", "C4"]))
    for name, path in series.items():
        for query, style, stat in ((BROAD, "-", "p50_ms"), (SPECIFIC, "--", "p50_ms"), (BROAD, ":", "p99_ms")):
            if stat == "p99_ms" and not name.startswith("ours, HTTP"):
                continue
            keys = [k.replace("{q}", query) for k in path]
            xs, ys = [], []
            for n, run in zip(papers, runs):
                value = _get(run, *keys, stat)
                if value:
                    xs.append(n)
                    ys.append(value)
            if xs:
                lat.plot(xs, ys, style, marker="o", color=colors[name],
                         label=f"{name}: {query.split(': ')[1]} {stat[:3]}")
    lat.axhline(50, color="grey", lw=0.8, ls="-.")
    lat.axhline(200, color="grey", lw=0.8, ls="-.")
    lat.set(xscale="log", yscale="log", xlabel="papers", ylabel="latency (ms, one client)",
            title="Query latency (p50 unless marked; 50/200 ms: p99 targets)")
    lat.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=2)
    lat.grid(True, which="both", alpha=0.3)

    ingest_series = {
        "ours: papers ingest": ("ingest", "app", "seconds"),
        "ours: re-ingest unchanged": ("ingest", "app_reingest", "seconds"),
        "raw floor (insert + FTS5 rebuild)": ("ingest", "floor", "seconds"),
        "sqlite-utils insert + enable-fts": ("peers", "datasette", "ingest", "seconds"),
        "tantivy index": ("peers", "tantivy", "ingest", "seconds"),
    }
    for name, keys in ingest_series.items():
        points = [(n, _get(run, *keys)) for n, run in zip(papers, runs) if _get(run, *keys)]
        if points:
            ing.plot(*zip(*points), marker="o", label=name)
    ing.set(xscale="log", yscale="log", xlabel="papers", ylabel="seconds", title="Ingest time (wall clock)")
    ing.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=2)
    ing.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(out, dpi=110)


if __name__ == "__main__":
    main()
