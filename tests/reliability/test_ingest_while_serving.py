"""While a large ingest commits batch after batch, a bounded load of searches against a live server sees no
error, no "database is locked", and no half-visible paper: every id a search returns resolves, the total of
an insert-only catalogue never goes down, and tag facets agree with the results they describe.

The default suite ingests 3,000 papers (real corpus papers when the shared corpus is here, synthetic ones
otherwise) in batches of 250 under three searching clients; `--run-slow` ingests 20,000 under six.
"""

import gzip
import itertools
import json
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import quote

import pytest
from live import Client, live_server

from app.settings import Settings

CORPUS = Settings().papers_corpus  # PAPERS_CORPUS
PAPERS = [sys.executable, "-m", "app.cli"]
SEARCHES = ["/api/papers?per_page=20", "/api/papers?tag=cs.LG&per_page=10", "/api/papers?q=language+models",
            "/api/papers?q=distillation&per_page=50", "/api/papers?q=learning&tag=cs.LG&sort=newest",
            "/api/papers?q=agents&not_tag=cs.CL", "/api/papers?year=2025&page=2", "/?q=reinforcement+learning",
            "/tags/distillation", "/api/tags", "/feed.atom?q=models"]
GROWING = {"/api/papers?per_page=20", "/api/papers?tag=cs.LG&per_page=10"}  # no query: can only grow


def source_file(path: Path, count: int) -> Path:
    if CORPUS.exists():
        with gzip.open(CORPUS, "rt", encoding="utf-8") as source, open(path, "w", encoding="utf-8") as out:
            out.writelines(itertools.islice(source, 5_000, 5_000 + count))  # papers the seed does not hold
        return path
    with open(path, "w") as out:
        for n in range(count):
            out.write(json.dumps({"id": f"2503.{n:05d}", "title": f"Agents and language models, study {n}",
                                  "abstract": " ".join(f"learning distillation term{(n * 7 + k) % 3000}" for k in range(50)),
                                  "authors": [f"Author {n % 211}"], "published": f"2025-{1 + n % 12:02d}-01",
                                  "categories": ["cs.LG", "cs.CL"][: 1 + n % 2]}) + "\n")
    return path


class Observer:
    """Runs the searches in a loop and records every inconsistency it sees."""

    def __init__(self, port: int, stop: threading.Event, max_requests: int):
        self.client, self.stop, self.max_requests = Client(port), stop, max_requests
        self.problems: list[str] = []
        self.requests = 0
        self.last_total: dict[str, int] = {}
        self.lookups = 0

    def problem(self, text: str) -> None:
        if len(self.problems) < 20:
            self.problems.append(text)

    def run(self, offset: int) -> None:
        try:
            for path in itertools.islice(itertools.cycle(SEARCHES), offset, None):
                if self.stop.is_set() or self.requests >= self.max_requests:
                    return
                self.visit(path)
        except Exception as exc:  # noqa: BLE001 - reported by the test, with the others
            self.problem(f"client failed: {exc!r}")
        finally:
            self.client.close()

    def visit(self, path: str) -> None:
        status, body = self.client.get(path)
        self.requests += 1
        if status != 200 or b"database is locked" in body.lower():
            self.problem(f"{path}: {status} {body[:200]!r}")
            return
        if not path.startswith("/api/papers"):
            return
        data = json.loads(body)
        total, results = data["total"], data["results"]
        expected = max(0, min(data["per_page"], total - (data["page"] - 1) * data["per_page"]))
        if len(results) != expected:
            self.problem(f"{path}: {len(results)} results on a page, total {total}")
        if path in GROWING:
            if total < self.last_total.get(path, 0):
                self.problem(f"{path}: total went down from {self.last_total[path]} to {total}")
            self.last_total[path] = total
        excluded = set(re.findall(r"not_tag=([^&]+)", path))  # an excluded tag counts what it hides
        for facet in data["facets"]["tags"]:
            if facet["slug"] not in excluded and not 0 < facet["count"] <= total:
                self.problem(f"{path}: facet {facet['slug']} counts {facet['count']} of {total}")
        if "tag=cs.LG" in path:
            if any("cs.LG" not in {t["slug"] for t in r["tags"]} for r in results):
                self.problem(f"{path}: a result without the tag it was filtered by")
            selected = [f for f in data["facets"]["tags"] if f["slug"] == "cs.LG"]
            if total and (not selected or selected[0]["count"] != total):
                self.problem(f"{path}: the selected tag's facet counts {selected} of {total}")
        for result in results[:3]:  # a searched paper must exist as a paper: never in the index alone
            status, paper = self.client.get_json(f"/api/papers/{quote(result['id'], safe='/')}")
            self.lookups += 1
            if status != 200 or paper["title"] != result["title"]:
                self.problem(f"{path}: result {result['id']} answers {status} at /api/papers/{result['id']}")


def ingest_while_searching(tmp_path: Path, papers: int, clients: int, max_seconds: float,
                           database_url: str | None = None) -> None:
    data = tmp_path / "data"
    source = source_file(tmp_path / "papers.jsonl", papers)
    where = {"DATABASE_URL": database_url} if database_url else {}
    with live_server(data, env_extra=where) as (port, log_path, _server):
        with Client(port) as client:
            seeded = client.get_json("/api/papers?per_page=1")[1]["total"]
        env = {**os.environ, "DATA_DIR": str(data)}
        env.pop("DATABASE_URL", None)
        env.pop("READ_DATABASE_URL", None)
        env.update(where)
        stop = threading.Event()
        observers = [Observer(port, stop, max_requests=20_000) for _ in range(clients)]
        threads = [threading.Thread(target=o.run, args=(n * 3,), daemon=True) for n, o in enumerate(observers)]
        started = time.monotonic()
        ingest = subprocess.Popen([*PAPERS, "ingest", "--quiet", "--batch-size", "250", str(source)], env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        for thread in threads:
            thread.start()
        try:
            _, ingest_err = ingest.communicate(timeout=max_seconds)
        finally:
            if ingest.poll() is None:
                ingest.kill()
                ingest.wait()
            stop.set()
            for thread in threads:
                thread.join(timeout=120)
        elapsed = time.monotonic() - started
        assert ingest.returncode in (0, 1), ingest_err
        inserted = int(re.findall(r"inserted ([\d,]+)", ingest_err)[-1].replace(",", ""))
        problems = [p for o in observers for p in o.problems]
        requests = sum(o.requests + o.lookups for o in observers)
        assert not problems, "\n".join(problems)
        assert requests >= clients * 10, f"only {requests} requests in {elapsed:.0f}s"

        with Client(port) as final:
            status, body = final.get_json("/api/papers?per_page=1")
            assert status == 200 and body["total"] >= seeded + inserted > seeded
            assert final.get_json("/health")[1]["papers"] == body["total"]
        log = log_path.read_text()
        assert "Traceback" not in log and "database is locked" not in log.lower(), log[-2000:]
    print(f"{requests} requests from {clients} clients during a {elapsed:.0f}s ingest of {inserted:,} papers: "
          "no errors, no inconsistency")


def _database(backend, request) -> str | None:
    """An empty PostgreSQL database on --backend=postgres; None: an SQLite file in the data dir."""
    return request.getfixturevalue("make_database")("served") if backend == "postgres" else None


def test_searches_during_an_ingest_see_no_error_and_no_half_visible_paper(tmp_path, backend, request):
    ingest_while_searching(tmp_path, papers=3_000, clients=3, max_seconds=300,
                           database_url=_database(backend, request))


@pytest.mark.slow
def test_searches_during_a_long_ingest_see_no_error_and_no_half_visible_paper(tmp_path, backend, request):
    ingest_while_searching(tmp_path, papers=20_000, clients=6, max_seconds=1800,
                           database_url=_database(backend, request))
