"""nDCG@10 of the search engine against a plain FTS5 baseline, on graded judgments of the seed papers.

The baseline is what a catalogue gets for free: every query token quoted, ANDed,
ordered by FTS5's default bm25 rank. The engine must beat it. Run this file as a
script for a per-query table:  .venv/bin/python tests/relevance/test_relevance.py
"""

import math
import sys
import tomllib
from pathlib import Path

import pytest

from app.db import reader
from app.engine.fts5 import quote
from app.search.query import fts_tokens
from app.search import SearchParams, run

JUDGMENTS = Path(__file__).with_name("judgments.toml")
K = 10


def load_judgments() -> list[tuple[str, dict[str, int]]]:
    data = tomllib.loads(JUDGMENTS.read_text(encoding="utf-8"))
    return [(q, entry["grades"]) for entry in data["query"] for q in entry["q"]]


def ndcg(ranked_titles: list[str], grades: dict[str, int], k: int = K) -> float:
    def dcg(gains):
        return sum((2 ** g - 1) / math.log2(i + 2) for i, g in enumerate(gains[:k]))
    ideal = dcg(sorted(grades.values(), reverse=True))
    return dcg([grades.get(t, 0) for t in ranked_titles]) / ideal if ideal else 0.0


def engine_titles(q: str) -> list[str]:
    return [hit.title for hit in run(SearchParams(q=q, per_page=K)).hits]


def baseline_titles(q: str) -> list[str]:
    tokens = fts_tokens(q)
    if not tokens:
        return []
    match = " ".join(quote([t]) for t in tokens)
    rows = reader().execute("SELECT p.title FROM papers_fts JOIN papers p ON p.id = papers_fts.rowid"
                            " WHERE papers_fts MATCH ? ORDER BY rank LIMIT ?", (match, K))
    return [row[0] for row in rows]


def evaluate() -> list[tuple[str, float, float]]:
    return [(q, ndcg(engine_titles(q), grades), ndcg(baseline_titles(q), grades))
            for q, grades in load_judgments()]


def mean(values) -> float:
    values = list(values)
    return sum(values) / len(values)


def test_at_least_25_judged_queries():
    assert len(load_judgments()) >= 25


def test_every_judged_title_is_a_seed_paper(seeded):
    titles = {row[0] for row in reader().execute("SELECT title FROM papers")}
    missing = {t for _q, grades in load_judgments() for t in grades} - titles
    assert not missing


@pytest.mark.sqlite_only  # the baseline is plain FTS5 on the SQLite catalogue
def test_the_engine_beats_the_plain_fts5_baseline(seeded, capsys):
    results = evaluate()
    engine, baseline = mean(r[1] for r in results), mean(r[2] for r in results)
    with capsys.disabled():
        print(f"\nnDCG@{K} over {len(results)} queries: engine {engine:.3f}, plain FTS5 baseline {baseline:.3f}")
    assert engine > baseline


@pytest.mark.parametrize("q", ["knowledge distillation", "pipeline parallelism", "MoE", "TTS", "learngene"])
def test_clear_topics_put_a_top_paper_first(seeded, q):
    grades = dict(load_judgments())[q]
    assert grades.get(engine_titles(q)[0]) == 3


def _main() -> None:  # pragma: no cover - a report for people tuning the ranking
    import tempfile

    from app import migrate
    from app.db import connect
    from app.ingest import ingest
    from app.settings import SEED_FILE, get_settings
    import os

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "papers.db"
        migrate.upgrade(f"sqlite:///{path}")
        conn = connect(path)
        ingest(conn, [str(SEED_FILE)], fmt="seed", source="seed", quiet=True)
        conn.close()
        os.environ["DATABASE_URL"] = f"sqlite:///{path}"
        get_settings.cache_clear()
        results = evaluate()
    width = max(len(q) for q, *_ in results)
    for q, eng, base in results:
        print(f"{q:<{width}}  engine {eng:.3f}  baseline {base:.3f}{'  <' if eng < base else ''}")
    print(f"{'mean':<{width}}  engine {mean(r[1] for r in results):.3f}  baseline {mean(r[2] for r in results):.3f}")


if __name__ == "__main__":  # pragma: no cover
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    _main()
