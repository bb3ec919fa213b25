"""The relevance set on the real corpus: its queries, its judgments file and the harness
that pools and scores it (bench/relevance.py). Scoring the systems on the corpus itself is
`python -m bench.relevance evaluate`; here the harness runs on the seed papers."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # bench/ is a folder of the repository, not an installed package
    sys.path.insert(0, str(ROOT))

from bench.relevance import (  # noqa: E402
    JUDGMENTS_FILE, KINDS, Query, fts5_top, load_judgments, load_queries, ndcg, precision, scores)


def test_the_set_has_at_least_ten_queries_of_every_kind():
    queries = load_queries()
    assert {q.kind for q in queries} == set(KINDS)
    assert all(sum(q.kind == kind for q in queries) >= 10 for kind in KINDS)


def test_every_query_has_a_unique_id_a_text_and_a_need():
    queries = load_queries()
    assert len({q.id for q in queries}) == len(queries)
    assert all(q.q.strip() and len(q.need.split()) >= 5 for q in queries)


def test_every_known_item_names_its_target_and_nothing_else_does():
    for q in load_queries():
        assert bool(q.target) == (q.kind == "known_item"), q.id


def test_the_judgments_file_names_only_queries_of_the_set_with_grades_0_to_2():
    grades, conflicts = load_judgments([JUDGMENTS_FILE])
    assert set(grades) <= {q.id for q in load_queries()}
    assert conflicts == 0


def test_a_grade_outside_0_to_2_is_refused(tmp_path):
    bad = tmp_path / "judged.toml"
    bad.write_text('[[judged]]\nquery = "broad-01"\n[judged.grades]\n"2501.00001" = 3\n')
    with pytest.raises(ValueError, match="not 0, 1 or 2"):
        load_judgments([bad])


def test_later_entries_add_to_a_query_and_a_changed_grade_is_counted(tmp_path):
    first, second = tmp_path / "a.toml", tmp_path / "b.toml"
    first.write_text('[[judged]]\nquery = "q"\n[judged.grades]\n"a" = 2\n"b" = 0\n')
    second.write_text('[[judged]]\nquery = "q"\n[judged.grades]\n"b" = 1\n"c" = 0\n')
    grades, conflicts = load_judgments([first, second])
    assert grades == {"q": {"a": 2, "b": 1, "c": 0}}
    assert conflicts == 1


def test_ndcg_is_one_in_the_ideal_order_and_lower_otherwise():
    grades = {"a": 2, "b": 1, "c": 0}
    assert ndcg(["a", "b", "c"], grades) == pytest.approx(1.0)
    assert ndcg(["b", "a", "c"], grades) < 1.0
    assert ndcg(["c"], grades) == 0.0


def test_ndcg_gains_grow_as_2_to_the_grade_minus_1():
    grades = {"a": 2, "b": 1}
    ideal = 3 + 1 / 1.584962500721156
    assert ndcg(["b", "a"], grades) == pytest.approx((1 + 3 / 1.584962500721156) / ideal)


def test_precision_counts_grade_1_and_2_over_ten_slots():
    grades = {"a": 2, "b": 1, "c": 0}
    assert precision(["a", "b", "c", "x"], grades) == pytest.approx(0.2)


def test_unjudged_results_count_as_not_relevant_and_are_counted():
    queries = [Query("q1", "broad", "x", "a need of some words"), Query("q2", "broad", "y", "another need here")]
    runs = {"s": {"q1": ["a", "unknown"], "q2": ["z"]}}
    result = scores(queries, runs, {"q1": {"a": 2}})
    assert [r["id"] for r in result["rows"]] == ["q1"]  # q2 has no judgments: left out
    assert result["rows"][0]["s"] == (pytest.approx(1.0), pytest.approx(0.1))
    assert result["unjudged"] == {"s": 1}


@pytest.mark.sqlite_only  # the harness reads the SQLite catalogue file (plain FTS5 as a baseline)
def test_plain_fts5_ands_the_words_and_ors_them_when_and_finds_nothing(seeded_database):
    from app.db import connect

    conn = connect(seeded_database, readonly=True)
    try:
        strict = fts5_top(conn, "pipeline parallelism")
        loose = fts5_top(conn, "pipeline parallelism zzyzxnotaword")
    finally:
        conn.close()
    assert strict and loose  # the nonsense word cannot be ANDed: the OR answers
    assert len(set(strict) & set(loose)) >= 1


def _pool(tmp_path, db, systems):
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "DATA_DIR")}
    env.update(BENCH_WORK_DIR=str(tmp_path / "work"), PAPERS_CORPUS_DB=str(db))
    proc = subprocess.run([sys.executable, "-m", "bench.relevance", "pool", "--out", str(tmp_path / "pool"),
                           "--systems", systems], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


@pytest.mark.sqlite_only  # the harness reads the SQLite catalogue file (plain FTS5 as a baseline)
def test_the_pool_is_blind_and_a_second_round_adds_only_new_papers(tmp_path, seeded_database):
    _pool(tmp_path, seeded_database, "fts5")
    pool = tmp_path / "pool"
    state = json.loads((pool / "_systems.json").read_text())
    first_round = {qid: set(ids) for qid, ids in state["pooled"].items()}
    chunks = sorted(p.name for p in pool.glob("*.md"))
    assert chunks and all(p.removesuffix(".md") in KINDS for p in chunks)
    for chunk in pool.glob("*.md"):
        text = chunk.read_text()
        assert "fts5" not in text.lower() and "tantivy" not in text.lower()

    _pool(tmp_path, seeded_database, "engine,fts5")
    state = json.loads((pool / "_systems.json").read_text())
    assert [sorted(r["systems"]) for r in state["rounds"]] == [["fts5"], ["engine", "fts5"]]
    topups = list(pool.glob("*-topup2.md"))
    assert topups
    for chunk in topups:
        for line in chunk.read_text().splitlines():
            if line.startswith("### "):  # "### <query id> / <n>. `<paper id>` <title>"
                query_id, paper_id = line.split()[1], line.split("`")[1]
                assert paper_id not in first_round[query_id], line


@pytest.mark.sqlite_only  # the harness reads the SQLite catalogue file (plain FTS5 as a baseline)
def test_evaluate_prints_a_table_per_kind_and_counts_unjudged_results(tmp_path, seeded_database):
    _pool(tmp_path, seeded_database, "engine,fts5")
    state = json.loads((tmp_path / "pool" / "_systems.json").read_text())
    judged = tmp_path / "judged.toml"
    # grade the first paper pooled for two queries of different kinds
    lines = []
    for qid in ("broad-01", "abbreviation-01"):
        lines += ["[[judged]]", f'query = "{qid}"', "[judged.grades]", f'"{state["pooled"][qid][0]}" = 2', ""]
    judged.write_text("\n".join(lines))
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "DATA_DIR")}
    env.update(BENCH_WORK_DIR=str(tmp_path / "work"), PAPERS_CORPUS_DB=str(seeded_database))
    proc = subprocess.run([sys.executable, "-m", "bench.relevance", "evaluate", "--systems", "engine,fts5",
                           "--judgments", str(judged), "--without-committed"],
                          cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = {line.split("|")[1].strip(): line for line in proc.stdout.splitlines() if line.startswith("| ")}
    assert {"broad", "abbreviation", "**overall**"} <= set(rows)
    assert "engine nDCG@10" in rows["kind"] and "fts5 P@10" in rows["kind"]
    assert "Unjudged papers in the top 10s" in proc.stdout
    assert "Queries without judgments, left out: 68" in proc.stdout
