"""Topic tags measured on the corpus: precision on a fixed-seed sample of each tag set,
recall on the papers of the recall pools judged relevant, from topic_judgments.toml.

Runs on the catalogue of the corpus that bench/relevance.py uses: PAPERS_CORPUS_DB (a
catalogue built by `papers ingest`), else one built once from the corpus
(../shared/corpus, or PAPERS_CORPUS) in the bench work folder; skipped without either.
It reads the catalogue without writing: the tag sets are those of the current rules,
not the ones the catalogue was tagged with. A sampled paper nobody has judged fails
the test with its id, so a changed rule asks for the judgments it needs. Topics known
to miss their target are strict expected failures: the day a rule reaches it, the
test says so and the mark must go.
"""

import sys
import tomllib
from pathlib import Path

import pytest

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
from corpus_catalogue import corpus_db  # noqa: E402
from topic_samples import (BELOW_PRECISION_TARGET, BELOW_RECALL_TARGET, NAMED_TARGET,  # noqa: E402
                           NAMED_TOPICS, OTHER_TARGET, RECALL_TARGET, precision_sample)

from app import tagging  # noqa: E402
from app.db import sqlite3  # noqa: E402

JUDGMENTS = HERE / "topic_judgments.toml"
POOLS = HERE / "topic_recall_pool.toml"

pytestmark = pytest.mark.corpus
# Pipeline parallelism is rare in the corpus: its pool of 50+ papers from eight phrasings
# holds about twenty about it (bench/README.md); below that, recall says little.
MIN_RELEVANT = 20


def load_judgments() -> dict[str, dict[str, int]]:
    data = tomllib.loads(JUDGMENTS.read_text(encoding="utf-8"))
    return {slug: {str(k): int(v) for k, v in grades.items()} for slug, grades in data.items()}


def load_pools() -> dict[str, list[str]]:
    return {slug: entry["papers"] for slug, entry in
            tomllib.loads(POOLS.read_text(encoding="utf-8")).items()}


@pytest.fixture(scope="module")
def tagged() -> dict[str, set[str]]:
    """arXiv ids each topic tags under the current rules, on the corpus catalogue."""
    path = corpus_db()
    if path is None:
        pytest.skip("no corpus: set PAPERS_CORPUS_DB to a catalogue or PAPERS_CORPUS to the corpus file")
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        keys = dict(conn.execute("SELECT id, key FROM papers"))
        return {t.slug: {keys[i] for i in tagging.matching_papers(conn, t)} for t in tagging.load_topics()}
    finally:
        conn.close()


def precision(slug: str, tagged_keys: set[str], grades: dict[str, int]) -> tuple[float, list[str]]:
    sample = precision_sample(slug, tagged_keys)
    unjudged = [k for k in sample if k not in grades]
    judged = [grades[k] for k in sample if k in grades]
    return (sum(judged) / len(judged) if judged else 0.0), unjudged


def recall(pool: list[str], tagged_keys: set[str], grades: dict[str, int]) -> tuple[float, int]:
    relevant = [k for k in pool if grades.get(k) == 1]
    return (sum(k in tagged_keys for k in relevant) / len(relevant) if relevant else 0.0), len(relevant)


def judged_topics() -> list[str]:
    return sorted(load_judgments())


def test_judgment_file_grades_are_zero_or_one():
    for slug, grades in load_judgments().items():
        assert set(grades.values()) <= {0, 1}, slug


def test_recall_pools_hold_at_least_50_papers_for_each_named_topic():
    pools = load_pools()
    assert set(pools) == set(NAMED_TOPICS)
    assert all(len(set(p)) >= 50 for p in pools.values())


def _known_misses(slugs, below: dict[str, str]):
    return [pytest.param(slug, marks=pytest.mark.xfail(strict=True, reason=below[slug])) if slug in below
            else slug for slug in slugs]


@pytest.mark.parametrize("slug", _known_misses([t.slug for t in tagging.load_topics()], BELOW_PRECISION_TARGET))
def test_topic_precision_on_its_judged_sample(tagged, slug):
    grades = load_judgments().get(slug)
    if not grades:
        pytest.skip(f"no judgments for {slug} yet")
    value, unjudged = precision(slug, tagged[slug], grades)
    assert not unjudged, f"{slug}: sampled but not judged: {', '.join(unjudged)}"
    target = NAMED_TARGET if slug in NAMED_TOPICS else OTHER_TARGET
    assert value >= target, f"{slug}: precision {value:.2f} < {target}"


@pytest.mark.parametrize("slug", _known_misses(NAMED_TOPICS, BELOW_RECALL_TARGET))
def test_named_topic_recall_on_its_judged_pool(tagged, slug):
    grades = load_judgments().get(slug, {})
    pool = load_pools()[slug]
    unjudged = [k for k in pool if k not in grades]
    if len(unjudged) == len(pool):
        pytest.skip(f"the recall pool of {slug} is not judged yet")
    assert not unjudged, f"{slug}: pool papers not judged: {', '.join(unjudged)}"
    value, relevant = recall(pool, tagged[slug], grades)
    assert relevant >= MIN_RELEVANT, f"{slug}: only {relevant} pool papers judged relevant"
    assert value >= RECALL_TARGET, f"{slug}: recall {value:.2f} < {RECALL_TARGET}"

