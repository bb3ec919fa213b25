"""The relevance targets on the real corpus: on the judged set (tests/relevance/corpus_queries.toml
and corpus_judgments.toml), this engine beats plain FTS5 in nDCG@10 in every kind of query and
matches or beats the Lucene-class BM25 reference (tantivy) overall.

Needs a catalogue of the whole corpus (PAPERS_CORPUS_DB, as for `python -m bench.relevance`)
and the peers virtualenv with tantivy (bench/.venv-peers, or PEERS_PYTHON); skipped, saying
which is missing, otherwise. It runs 70 queries through three systems: a few minutes.
"""

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # bench/ is a folder of the repository, not an installed package
    sys.path.insert(0, str(ROOT))

from bench.relevance import (  # noqa: E402
    JUDGMENTS_FILE, KINDS, PEERS_PYTHON, load_judgments, load_queries, run_systems, scores)

pytestmark = pytest.mark.corpus


def _mean(rows, system: str) -> float:
    return sum(r[system][0] for r in rows) / len(rows)


@pytest.fixture(scope="module")
def metrics():
    db = os.environ.get("PAPERS_CORPUS_DB")
    if not db or not Path(db).exists():
        pytest.skip("no catalogue of the whole corpus: set PAPERS_CORPUS_DB (see bench/README.md)")
    peers = Path(os.environ.get("PEERS_PYTHON") or PEERS_PYTHON)
    if not peers.exists():
        pytest.skip(f"no peers virtualenv with tantivy at {peers}: set PEERS_PYTHON or build bench/.venv-peers")
    from bench.relevance import catalogue
    queries = load_queries()
    grades, _ = load_judgments([JUDGMENTS_FILE])
    previous = os.environ.get("DATABASE_URL")
    try:
        runs = run_systems(catalogue(), queries, ("engine", "fts5", "tantivy"), peers)
    finally:
        from app.settings import get_settings
        if previous is None:
            os.environ.pop("DATABASE_URL", None)
        else:
            os.environ["DATABASE_URL"] = previous
        get_settings.cache_clear()
    return scores(queries, runs, grades)["rows"]


@pytest.mark.parametrize("kind", KINDS)
def test_the_engine_beats_plain_fts5_in_every_kind(metrics, kind):
    rows = [r for r in metrics if r["kind"] == kind]
    assert _mean(rows, "engine") > _mean(rows, "fts5")


def test_the_engine_matches_or_beats_the_bm25_reference_overall(metrics):
    assert _mean(metrics, "engine") >= _mean(metrics, "tantivy")
