"""Results JSON in, Markdown tables (into bench/README.md) and the scaling plot out.

Only the region between `<!-- results -->` and `<!-- /results -->` of the README
is rewritten; everything else, the relevance section included, is left as is.
"""

import json
import re
import subprocess
from pathlib import Path

from bench.common import BENCH_DIR, PEERS_PYTHON, RESULTS_DIR, log, parse_size

LATEST = RESULTS_DIR / "latest.json"
README = BENCH_DIR / "README.md"
PLOT = RESULTS_DIR / "scaling.png"
START, END = "<!-- results -->", "<!-- /results -->"

TARGETS = {
    "ingest_papers_per_s": 10_000,
    "ingest_vs_floor": 1.5,     # issue 12: end to end, parse to tags and index
    "reingest_vs_floor": 0.5,   # issue 12: the same file again
    "http_p99_ms_165k": 50,
    "http_p99_ms_1m": 200,
    "specific_req_per_s_c20": 200,
    "broad_req_per_s_c20": 50,
    "rss_mb_165k": 300,
}


def load(path: Path) -> dict:
    if path.exists():
        return json.loads(path.read_text())
    return {"schema": 1, "runs": {}}


def save(results: dict, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(results, indent=1, sort_keys=False) + "\n")
    tmp.replace(path)


def _get(node, *keys):
    for key in keys:
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return node


def _fmt(value, unit: str = "", digits: int = 1) -> str:
    if value is None:
        return "–"
    if isinstance(value, float) and digits == 0:
        value = round(value)
    if isinstance(value, int) or (isinstance(value, float) and value >= 1000):
        return f"{value:,.0f}{unit}"
    return f"{value:.{digits}f}{unit}"


def _ms(entry: dict | None, key: str = "p50_ms") -> str:
    if not entry:
        return "–"
    if entry.get("error"):
        return "error"
    return _fmt(entry.get(key), digits=2 if (entry.get(key) or 0) < 10 else 1)


def _sizes(results: dict) -> list[str]:
    return sorted(results.get("runs", {}), key=lambda label: parse_size(label))


def ingest_table(results: dict) -> str:
    rows = ["| papers | `papers ingest` | papers/s | re-ingest | DB size | raw floor | floor papers/s | ours ÷ floor "
            "| sqlite-utils + FTS | tantivy index |",
            "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for label in _sizes(results):
        run = results["runs"][label]
        ing = run.get("ingest", {})
        app, floor, again = ing.get("app", {}), ing.get("floor", {}), ing.get("app_reingest", {})
        ds = _get(run, "peers", "datasette", "ingest") or {}
        tv = _get(run, "peers", "tantivy", "ingest") or {}
        rows.append(
            f"| {_fmt(_get(run, 'data', 'papers'))} | {_fmt(app.get('seconds'), ' s')} | {_fmt(app.get('papers_per_s'))}"
            f" | {_fmt(again.get('seconds'), ' s')} | {_fmt((app.get('db_bytes') or 0) / 2**20 or None, ' MB', 0)}"
            f" | {_fmt(floor.get('seconds'), ' s')} | {_fmt(floor.get('papers_per_s'))}"
            f" | {_fmt(ing.get('app_vs_floor'), '×', 2)} | {_fmt(ds.get('seconds'), ' s')}"
            f" | {_fmt(tv.get('seconds'), ' s')} |")
    return "\n".join(rows)


def latency_table(results: dict, label: str) -> str:
    run = results["runs"][label]
    inproc = _get(run, "search_inproc", "queries") or {}
    page = _get(run, "http", "sequential", "page") or {}
    api = _get(run, "http", "sequential", "api") or {}
    floor = run.get("floor_query") or {}
    tv = _get(run, "peers", "tantivy", "queries") or {}
    ds = _get(run, "peers", "datasette", "serve", "sequential") or {}
    wh = _get(run, "peers", "whoosh", "queries") or {}
    wh_n = _get(run, "peers", "whoosh", "ingest", "papers")
    names = list(dict.fromkeys([*inproc, *page, *floor]))
    rows = [f"| query | matches | `search.run` p50 / p99 | page (HTTP) p50 / p99 | API p50 / p99 | FTS5 floor top 20 "
            f"| FTS5 floor faceted | tantivy top 20 | tantivy faceted | Datasette faceted p50 |"
            f" Whoosh faceted{f' ({wh_n:,} papers)' if wh_n else ''} |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for name in names:
        q = inproc.get(name, {})
        matches = q.get("matches", _get(floor, name, "matches"))
        rows.append(
            f"| {name} | {_fmt(matches)} | {_ms(q)} / {_ms(q, 'p99_ms')} | {_ms(page.get(name))} / "
            f"{_ms(page.get(name), 'p99_ms')} | {_ms(api.get(name))} / {_ms(api.get(name), 'p99_ms')}"
            f" | {_ms(_get(floor, name, 'top20'))} | {_ms(_get(floor, name, 'faceted'))}"
            f" | {_ms(_get(tv, name, 'top20'))} | {_ms(_get(tv, name, 'faceted'))}"
            f" | {_ms(ds.get(name)) if name in ds else 'n/a'} | {_ms(_get(wh, name, 'faceted'))} |")
    return "\n".join(rows)


def load_table(results: dict, label: str) -> str:
    run = results["runs"][label]
    loads = list(_get(run, "http", "load") or []) + list(_get(run, "peers", "datasette", "serve", "load") or [])
    rows = ["| endpoint | queries | clients | req/s | p50 | p99 | errors | server RSS max |",
            "|---|---|---:|---:|---:|---:|---:|---:|"]
    for cell in loads:
        if cell.get("error"):
            rows.append(f"| {cell['endpoint']} | {cell['class']} | {cell.get('concurrency')} | error: "
                        f"{cell['error'][:80]} | | | | |")
            continue
        if not cell.get("requests"):
            rows.append(f"| {cell['endpoint']} | {cell['class']} | {cell['concurrency']} | 0 (none completed in "
                        f"{cell.get('seconds')} s) | | | {cell.get('errors')} | "
                        f"{_fmt(cell.get('server_rss_max_mb'), ' MB', 0)} |")
            continue
        rows.append(f"| {cell['endpoint']} | {cell['class']} | {cell['concurrency']} | {_fmt(cell.get('req_per_s'))}"
                    f" | {_fmt(cell.get('p50_ms'), ' ms')} | {_fmt(cell.get('p99_ms'), ' ms')}"
                    f" | {cell.get('errors')} | {_fmt(cell.get('server_rss_max_mb'), ' MB', 0)} |")
    return "\n".join(rows)


def target_rows(results: dict) -> str:
    rows = ["| target | measured | met |", "|---|---|:-:|"]

    def add(name: str, measured, ok: bool | None) -> None:
        rows.append(f"| {name} | {measured} | {'–' if ok is None else ('yes' if ok else '**no**')} |")

    for label in _sizes(results):
        run = results["runs"][label]
        app = _get(run, "ingest", "app") or {}
        if label == "165k" and app:
            add("ingest ≥ 10,000 papers/s (165k, tagging included)", f"{_fmt(app.get('papers_per_s'))} papers/s",
                (app.get("papers_per_s") or 0) >= TARGETS["ingest_papers_per_s"])
            ratio = _get(run, "ingest", "app_vs_floor")
            add(f"ingest within {TARGETS['ingest_vs_floor']}× of the raw floor", _fmt(ratio, "×", 2),
                None if ratio is None else ratio <= TARGETS["ingest_vs_floor"])
            again = _get(run, "ingest", "app_reingest", "seconds")
            floor_s = _get(run, "ingest", "floor", "seconds")
            again_ratio = again / floor_s if again and floor_s else None
            add(f"re-ingest of unchanged data under {TARGETS['reingest_vs_floor']}× the raw floor",
                f"{_fmt(again, ' s')} ({_fmt(again_ratio, '×', 2)})",
                None if again_ratio is None else again_ratio < TARGETS["reingest_vs_floor"])
        limit = {"165k": TARGETS["http_p99_ms_165k"], "1m": TARGETS["http_p99_ms_1m"]}.get(label)
        seq = _get(run, "http", "sequential") or {}
        if limit and seq:
            worst = max(((e.get("p99_ms") or 0, f"{ep} {n}") for ep, cells in seq.items() for n, e in cells.items()
                         if not e.get("error")), default=(None, ""))
            errors = [f"{ep} {n}" for ep, cells in seq.items() for n, e in cells.items() if e.get("error")]
            add(f"every query p99 ≤ {limit} ms over HTTP ({label})",
                f"worst {_fmt(worst[0], ' ms')} ({worst[1]})" + (f"; {len(errors)} failed" if errors else ""),
                None if worst[0] is None else worst[0] <= limit and not errors)
        for cell in _get(run, "http", "load") or []:
            if cell.get("concurrency") == 20 and label == "165k" and not cell.get("error"):
                goal = TARGETS[f"{cell['class']}_req_per_s_c20"]
                add(f"{cell['endpoint']} {cell['class']} ≥ {goal} req/s at 20 clients, 0 errors",
                    f"{_fmt(cell.get('req_per_s'))} req/s, {cell.get('errors')} errors",
                    (cell.get("req_per_s") or 0) >= goal and cell.get("errors") == 0)
        if label == "165k":
            peak = max([c.get("server_peak_rss_mb") or 0 for c in _get(run, "http", "load") or []]
                       + [_get(run, "http", "after", "peak_rss_mb") or 0])
            if peak:
                add("server memory ≤ 300 MB (165k)", f"{_fmt(peak, ' MB', 0)} peak",
                    peak <= TARGETS["rss_mb_165k"])
    return "\n".join(rows)


def _stage_provenance(run: dict) -> str:
    """Which stages were measured on another app version or day than the size's header says."""
    others = {name: info for name, info in (run.get("stages") or {}).items()
              if name != "data" and info.get("commit") != run.get("commit")}
    text = ""
    if others:
        text += "; stages measured on another app version: " + ", ".join(
            f"{name} at `{info.get('commit')}` ({info.get('date')})" for name, info in others.items())
    finished = run.get("finished") or "9999"
    later = [f"{name} ({info.get('date')})" for name, info in (run.get("stages") or {}).items()
             if name != "data" and info.get("date", "") > finished]
    if later:
        text += "; measured again after that run: " + ", ".join(later)
    redone = set(run.get("stages") or {})
    for old in run.get("history") or []:
        text += (f"; stages not redone since (peers among them) come from the earlier run of {old.get('date')}"
                 f" on `{old.get('commit')}` (`{old.get('command')}`)") if redone else ""
    return text


def markdown(results: dict) -> str:
    sizes = _sizes(results)
    if not sizes:
        return "No results yet: run the command above."
    parts = [f"Results of `{LATEST.relative_to(BENCH_DIR.parent)}`, updated {results.get('updated', '?')}."]
    for label in sizes:
        run = results["runs"][label]
        m = run.get("machine", {})
        parts.append(f"- **{label}** ({_fmt(_get(run, 'data', 'papers'))} papers: {_fmt(_get(run, 'data', 'real'))} "
                     f"real, {_fmt(_get(run, 'data', 'synthetic'))} synthetic): {run.get('date')}, commit "
                     f"`{run.get('commit')}`, {m.get('cores')} cores, {m.get('memory_gb')} GB, {m.get('cpu')}, "
                     f"SQLite {m.get('sqlite')}, Python {m.get('python')}, load average at start "
                     f"{m.get('load_average_at_start')}, load generator {_get(run, 'config', 'loadgen')}; "
                     f"command `{run.get('command')}`"
                     + _stage_provenance(run)
                     + (f"; **errors**: {', '.join(run['errors'])}" if run.get("errors") else ""))
    parts += ["", "### Targets", "", target_rows(results), "", "### Ingest", "", ingest_table(results)]
    for label in sizes:
        parts += ["", f"### Query latency at {label} (ms; one client, warm)", "", latency_table(results, label)]
    for label in sizes:
        if _get(results["runs"][label], "http", "load"):
            parts += ["", f"### Throughput at {label} (bounded load on 127.0.0.1)", "", load_table(results, label)]
    if PLOT.exists():
        parts += ["", f"![latency and ingest time against corpus size](results/{PLOT.name})"]
    return "\n".join(parts)


def write_readme(results: dict) -> None:
    text = README.read_text() if README.exists() else f"# Benchmarks\n\n{START}\n{END}\n"
    if START not in text or END not in text:
        text = text.rstrip() + f"\n\n## Latest results\n\n{START}\n{END}\n"
    pattern = re.compile(re.escape(START) + r".*?" + re.escape(END), re.S)
    README.write_text(pattern.sub(lambda _m: f"{START}\n{markdown(results)}\n{END}", text, count=1))


def write_plot(results_path: Path = LATEST) -> bool:
    if not PEERS_PYTHON.exists():
        log("no bench/.venv-peers: skipping the plot (matplotlib lives there)")
        return False
    proc = subprocess.run([str(PEERS_PYTHON), "-m", "bench.plot", str(results_path), str(PLOT)],
                          cwd=BENCH_DIR.parent, capture_output=True, text=True)
    if proc.returncode != 0:
        log(f"plot failed: {proc.stderr[-800:]}")
        return False
    return True


def write_outputs(results: dict) -> None:
    write_plot()
    write_readme(results)
    log(f"wrote {README.relative_to(BENCH_DIR.parent)} and {PLOT.relative_to(BENCH_DIR.parent)}")
