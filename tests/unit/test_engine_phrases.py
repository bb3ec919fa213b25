"""A phrase lies inside one column, on either engine: FTS5 never matches one across the
title/abstract or abstract/authors boundary, and PostgreSQL, whose tsvector numbers the
three columns' words in one run, must not either (nor count such a paper in the phrase's
document frequency, which its BM25 scores depend on).

Runs on the suite's backend (`--backend=postgres` for PostgreSQL).
"""

import orjson
import pytest

from app.db import connect
from app.engine import get_engine
from app.ingest import ingest
from app.plan import AllOf, Words

WEIGHTS = (5.0, 1.0, 2.0)

# 2501.00001: "alpha" ends the title and "beta" starts the abstract; "gamma" ends the
# abstract and "Delta" starts the authors. 2501.00002 has both phrases in its abstract.
CROSSING = {"id": "2501.00001", "title": "Notes on alpha", "abstract": "Beta waves in sleep and gamma",
            "authors": "Delta Vance"}
# The same words at the same length, not adjacent: the control for the scores.
APART = {"id": "2501.00001", "title": "Alpha notes on", "abstract": "Waves beta in sleep gamma and",
         "authors": "Vance Delta"}
OTHERS = [
    {"id": "2501.00002", "title": "Rhythms", "abstract": "We record alpha beta coupling and gamma delta bursts.",
     "authors": "Ada Lind"},
    {"id": "2501.00003", "title": "Unrelated", "abstract": "Graph neural networks for molecules.",
     "authors": "Bo Ruiz"},
]


def _catalogue(make_database, tmp_path, first: dict):
    records = tmp_path / f"{first['title'].replace(' ', '-')}.jsonl"
    records.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in [first, *OTHERS]))
    conn = connect(make_database())
    stats, status = ingest(conn, [str(records)], fmt="jsonl", source="test", quiet=True)
    assert status == 0 and stats.inserted == 3
    return conn


def _arxiv_ids(conn, ids):
    return sorted(conn.execute("SELECT arxiv_id FROM papers WHERE id = ?", (i,)).fetchone()[0] for i in ids)


@pytest.fixture
def crossing(make_database, tmp_path):
    conn = _catalogue(make_database, tmp_path, CROSSING)
    yield conn
    conn.close()


@pytest.fixture
def apart(make_database, tmp_path):
    conn = _catalogue(make_database, tmp_path, APART)
    yield conn
    conn.close()


@pytest.mark.parametrize("phrase", [("alpha", "beta"), ("gamma", "delta"), ("alpha", "bet")],
                         ids=lambda p: " ".join(p))
def test_a_phrase_never_matches_across_two_columns(crossing, phrase):
    engine = get_engine(crossing)
    words = Words(phrase, prefix=phrase[-1] == "bet")
    ids = engine.match_ids(crossing, words)
    assert _arxiv_ids(crossing, ids) == ["2501.00002"]
    assert [i for i, _score in engine.rank(crossing, words, WEIGHTS, None, 0)] == ids
    assert engine.phrase_scores(crossing, words, WEIGHTS)[0] == ids
    # Inside a larger query too, and in a batch (`within`).
    tree = AllOf((words, Words(("sleep",))))
    assert engine.match_ids(crossing, tree) == []
    everything = [r[0] for r in crossing.execute("SELECT id FROM papers ORDER BY id")]
    assert engine.match_ids(crossing, words, within=everything) == ids


@pytest.mark.parametrize("phrase", [("alpha", "beta"), ("gamma", "delta")], ids=" ".join)
def test_a_paper_with_the_words_in_two_columns_does_not_count_in_the_phrase_frequency(crossing, apart, phrase):
    # Same words, same lengths: only whether the engine counts the crossing paper among the
    # phrase's documents could make the other paper's score differ.
    engine = get_engine(crossing)
    words = Words(phrase)
    scores = [engine.phrase_scores(conn, words, WEIGHTS) for conn in (crossing, apart)]
    assert len(scores[0][0]) == 1 and scores[0][0] == scores[1][0]
    assert scores[0][1] == pytest.approx(scores[1][1], rel=1e-12)
