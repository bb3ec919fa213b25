"""Scale-out on PostgreSQL: a primary, a streaming hot standby (pg_basebackup -R), two
`papers serve` reading the standby, and `papers ingest` writing to the primary at the
same time. Both app servers see each committed batch once the standby has replayed
it -- never half a batch, never an error -- and agree with each other at the end.

Runs with `--backend=postgres` (it starts its own primary and standby).
"""

import json
import os
import subprocess
import sys
import threading
import time

import pytest
from live import Client, live_server
from pgcluster import Cluster

from app.settings import PROJECT_ROOT, SEED_FILE

pytestmark = [pytest.mark.postgres]

PAPERS = [sys.executable, "-m", "app.cli"]
NEW_PAPERS = 2_000
BATCH = 200
WORD = "zyxwoolly"          # in every new paper's title, in no seed paper
CATEGORY = "astro-ph.CO"     # every new paper's only category, no seed paper's


@pytest.fixture(scope="module")
def replicated(request, tmp_path_factory):
    if request.config.getoption("--backend") != "postgres":
        pytest.skip("a PostgreSQL deployment: run with --backend=postgres")
    with Cluster.started() as primary:
        url = primary.create_database("papers")
        env = {**os.environ, "DATABASE_URL": url}
        env.pop("READ_DATABASE_URL", None)
        subprocess.run([*PAPERS, "ingest", str(SEED_FILE), "--quiet"], env=env, cwd=PROJECT_ROOT, check=True,
                       capture_output=True)
        with primary.standby() as standby:
            yield primary, url, standby, standby.url("papers"), tmp_path_factory.mktemp("replication")


def _new_papers(path) -> None:
    with open(path, "w", encoding="utf-8") as out:
        for n in range(NEW_PAPERS):
            out.write(json.dumps({
                "id": f"2507.{n:05d}", "title": f"A {WORD} study of replicated catalogues, part {n}",
                "abstract": f"Streaming replication keeps a hot standby current; experiment {n} of many.",
                "authors": [f"Author {n % 97}"], "published": f"2025-{1 + n % 12:02d}-15",
                "categories": [CATEGORY]}) + "\n")


def _observe(port: int, seed_total: int, stop: threading.Event, problems: list, seen: list) -> None:
    """Search one app server in a loop; record anything a whole-batch catalogue cannot show."""
    last_all, last_new = 0, 0
    with Client(port) as client:
        while not stop.is_set():
            status, body = client.get_json(f"/api/papers?q={WORD}&per_page=5")
            status_all, body_all = client.get_json("/api/papers?per_page=1")
            if status != 200 or status_all != 200:
                problems.append(f"port {port}: {status} {status_all} {body or body_all}")
                return
            new, total = body["total"], body_all["total"]
            facet = {t["slug"]: t["count"] for t in body["facets"]["tags"]}.get(CATEGORY, 0)
            if new % BATCH and new != NEW_PAPERS:
                problems.append(f"port {port}: {new} new papers found, not whole batches of {BATCH}")
            if new and facet != new:
                problems.append(f"port {port}: {new} new papers found but the {CATEGORY} facet counts {facet}")
            if (total - seed_total) % BATCH and total - seed_total != NEW_PAPERS:
                problems.append(f"port {port}: {total} papers in all, not the seed plus whole batches")
            if new < last_new or total < last_all:
                problems.append(f"port {port}: went back from {last_new}/{last_all} to {new}/{total}")
            last_new, last_all = new, total
            seen.append((port, new, total))
            if len(problems) > 10:
                return
            time.sleep(0.05)


def test_two_app_servers_on_a_standby_see_whole_batches_while_ingest_writes_to_the_primary(replicated):
    primary, url, standby, read_url, tmp = replicated
    env = {"DATABASE_URL": url, "READ_DATABASE_URL": read_url}
    source = tmp / "new.jsonl"
    _new_papers(source)
    with live_server(tmp / "one", "--no-seed", env_extra=env) as (port1, _log1, _p1), \
            live_server(tmp / "two", "--no-seed", env_extra=env) as (port2, _log2, _p2):
        with Client(port1) as client:
            seed_total = client.get_json("/api/papers?per_page=1")[1]["total"]
        assert seed_total == 93
        stop, problems, seen = threading.Event(), [], []
        observers = [threading.Thread(target=_observe, args=(port, seed_total, stop, problems, seen))
                     for port in (port1, port2)]
        for thread in observers:
            thread.start()
        try:
            ingest = subprocess.run([*PAPERS, "ingest", str(source), "--quiet", "--batch-size", str(BATCH)],
                                    env={**os.environ, **env}, cwd=PROJECT_ROOT, capture_output=True, text=True,
                                    timeout=600)
            assert ingest.returncode == 0, ingest.stderr
            standby.wait_caught_up(primary)
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and not all(
                    any(p == port and new == NEW_PAPERS for p, new, _ in seen[-20:]) for port in (port1, port2)):
                time.sleep(0.2)
        finally:
            stop.set()
            for thread in observers:
                thread.join(timeout=60)
        assert not problems, problems
        during = {new for _port, new, _total in seen}
        assert len(during) > 2, f"the load saw too few states to mean anything: {sorted(during)}"
        for port in (port1, port2):
            with Client(port) as client:
                status, body = client.get_json(f"/api/papers?q={WORD}&per_page=1")
                _, everything = client.get_json("/api/papers?per_page=1")
                _, by_tag = client.get_json(f"/api/papers?tag={CATEGORY}&per_page=1")
            assert status == 200
            assert body["total"] == NEW_PAPERS
            assert everything["total"] == seed_total + NEW_PAPERS
            assert by_tag["total"] == NEW_PAPERS
            assert {t["slug"]: t["count"] for t in body["facets"]["tags"]}[CATEGORY] == NEW_PAPERS
