"""PostgreSQL specifics: the migrations round-trip, ingest keeps the BM25 statistics and
the catalogue version, query lexemes are the index's, and ranking equals SQLite's.

Runs with `--backend=postgres`.
"""

import orjson
import psycopg
import pytest

from app import migrate
from app.db import catalogue_version, connect, transaction
from app.engine.fts5 import Fts5Engine
from app.engine.postgres import PostgresEngine, _leaves, lexeme
from app.ingest import ingest
from app.plan import AllOf, AnyOf, Words
from app.settings import SEED_FILE

pytestmark = pytest.mark.postgres


def test_migrations_round_trip(pg_cluster):
    url = pg_cluster.create_database("roundtrip")
    try:
        migrate.upgrade(url)
        migrate.downgrade(url, "base")
        conn = connect(url)
        tables = {r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
        conn.close()
        assert tables <= {"alembic_version"}
        migrate.upgrade(url)
        conn = connect(url)
        assert conn.execute("SELECT version FROM catalogue_version").fetchone()[0] >= 1
        conn.close()
    finally:
        pg_cluster.drop_database("roundtrip")


def test_each_papers_tsvector_is_kept_in_its_row(seeded_database):
    """Scoring reads the tsvector of every matching paper: inline, not in the TOAST table."""
    conn = connect(seeded_database)
    storage = dict(conn.execute("SELECT attname, attstorage FROM pg_attribute"
                                " WHERE attrelid = 'papers'::regclass AND attnum > 0").fetchall())
    conn.close()
    assert storage["tsv"] == "m"
    # ... and the short columns read for every paper at start-up (the sort by title) stay in it too
    assert storage["title_norm"] == storage["key"] == "p" and storage["abstract"] == "x"


def test_ingest_keeps_the_statistics_bm25_needs(seeded_database):
    conn = connect(seeded_database)
    assert PostgresEngine().check(conn) == []
    assert conn.execute("SELECT count(*) FROM search_terms").fetchone()[0] > 1000
    papers, words = conn.execute("SELECT docs, words FROM search_stats").fetchone()
    assert papers == 93 and words == conn.execute("SELECT sum(doc_len) FROM papers").fetchone()[0]
    conn.close()


def test_row_by_row_writes_keep_the_statistics_too(database):
    conn = connect(database)
    ingest(conn, [str(SEED_FILE)], fmt="seed", source="seed", quiet=True)
    with transaction(conn):
        conn.execute("UPDATE papers SET title = 'Zebra crossings' WHERE id = 1")
        conn.execute("DELETE FROM papers WHERE id = 2")
    engine = PostgresEngine()
    assert engine.check(conn) == []
    assert engine.document_frequencies(conn, ["zebra"]) == {"zebra": 1}
    conn.close()


def _records(path, n: int, revised: bool = False):
    lines = [orjson.dumps({"id": f"2501.{i:05d}", "title": f"Paper {i} on sparse experts",
                           "abstract": f"Routing tokens to experts, study {i}." + (" Revised." if revised else ""),
                           "authors": f"Ada Lind, Bo Ruiz{i}"}) for i in range(1, n + 1)]
    path.write_bytes(b"\n".join(lines) + b"\n")
    return str(path)


def _search_count_calls(conn) -> int:
    """Calls of the statistics function so far in this transaction (track_functions is on)."""
    return conn.execute("SELECT coalesce(pg_stat_get_xact_function_calls("
                        "'search_count(tsvector[], integer[], integer)'::regprocedure), 0)").fetchone()[0]


def test_a_statement_over_many_papers_counts_their_terms_at_once(database, tmp_path):
    # Set-based: one statement deleting or rewriting 40 papers updates each term's
    # statistics row once, not once per paper (minutes for a few thousand papers).
    conn = connect(database)
    ingest(conn, [_records(tmp_path / "a.jsonl", 40)], fmt="jsonl", source="test", quiet=True)
    conn.execute("SET track_functions = 'all'")
    engine = PostgresEngine()
    with transaction(conn):
        conn.execute("UPDATE papers SET abstract = abstract || ' Zebra.' WHERE id <= 30")
        conn.execute("UPDATE papers SET upvotes = 1")  # no indexed text changes: nothing to count
        conn.execute("DELETE FROM papers WHERE id > 20")
        assert _search_count_calls(conn) == 3  # the update's old and new terms, the deletion's
    assert engine.check(conn) == []
    assert engine.document_frequencies(conn, ["zebra", "expert"]) == {"zebra": 20, "expert": 20}
    conn.close()


def test_replacing_papers_takes_their_old_terms_out_in_one_statement(database, tmp_path, monkeypatch):
    from app.engine import postgres

    conn = connect(database)
    ingest(conn, [_records(tmp_path / "a.jsonl", 40)], fmt="jsonl", source="test", quiet=True)
    statements = []
    run = postgres._run
    monkeypatch.setattr(postgres, "_run", lambda c, sql, args=None: statements.append(sql) or run(c, sql, args))
    stats, status = ingest(conn, [_records(tmp_path / "b.jsonl", 40, revised=True)], fmt="jsonl",
                           source="test", quiet=True)
    assert status == 0 and stats.updated == 40
    assert sum("search_count" in sql for sql in statements) == 2  # the old texts out, the new in
    engine = PostgresEngine()
    assert engine.check(conn) == []
    assert engine.document_frequencies(conn, ["revis"]) == {"revis": 40}
    conn.close()


def test_a_phrase_counted_in_one_database_is_counted_again_in_another_at_the_same_version(make_database,
                                                                                          tmp_path):
    # One engine per process serves every connection: a count kept for one database must not
    # answer for another whose catalogue version happens to be the same number.
    engine, phrase = PostgresEngine(), Words(("language", "models"))
    first, second = connect(make_database()), connect(make_database())
    ingest(first, [str(SEED_FILE)], fmt="seed", source="seed", quiet=True)
    one = tmp_path / "one.jsonl"
    one.write_text('{"id": "2501.00001", "title": "Language models", "abstract": "Small ones, trained."}\n')
    ingest(second, [str(one)], fmt="jsonl", source="test", quiet=True)
    assert catalogue_version(first) == catalogue_version(second)
    in_first = engine.phrase_scores(first, phrase, (5.0, 1.0, 2.0))[0]
    assert len(in_first) > 1
    assert len(engine.phrase_scores(second, phrase, (5.0, 1.0, 2.0))[0]) == 1  # no math error either
    first.close(), second.close()


def test_each_batch_bumps_the_catalogue_version_in_its_transaction(database, tmp_path):
    conn = connect(database)
    before = catalogue_version(conn)
    ingest(conn, [str(SEED_FILE)], fmt="seed", source="seed", quiet=True)
    after = catalogue_version(conn)
    assert after > before
    with transaction(conn):
        conn.execute("UPDATE papers SET title = 'Changed' WHERE id = 1")
        other = connect(database, readonly=True)
        assert catalogue_version(other) == after  # not before the commit
        other.close()
    assert catalogue_version(conn) > after
    conn.close()


def test_query_lexemes_are_the_index_lexemes(seeded_database):
    """The Porter stems made in Python for a query are those PostgreSQL stores."""
    conn = connect(seeded_database)
    words = [r[0] for r in conn.execute(
        "SELECT DISTINCT lower(w) FROM papers, regexp_split_to_table(papers_words(title || ' ' || abstract), ' ') w"
        " WHERE w <> ''")]
    stored = dict(conn.raw.execute("SELECT w, (to_tsvector('papers', w)::text) FROM unnest(%s::text[]) w",
                                   [words]).fetchall())
    different = [(w, lexeme(w), stored[w]) for w in words if stored[w] != f"'{lexeme(w)}':1"]
    assert len(words) > 1000 and different == []
    conn.close()


def test_no_input_becomes_tsquery_syntax(seeded_database):
    conn = connect(seeded_database)
    engine = PostgresEngine()
    for hostile in ("'", "\\", "a'b", "!", "&|", ":*", "<->", "(", "x:A"):
        text = Words((hostile,))
        assert engine.match_ids(conn, text) == []
    conn.close()


QUERIES = [Words(("language",)), Words(("large", "language")), AllOf((Words(("graph",)), Words(("neural",)))),
           Words(("retriev",), prefix=True), AllOf((Words(("model",)),), (Words(("agent",)),)),
           AnyOf((Words(("distillation",)), Words(("pruning",)))), Words(("language",), columns=("title",)),
           Words(("models",), columns=("abstract",)), Words(("language", "models")),
           # A branch of an OR the paper does not match adds nothing, though one of its words is there.
           AnyOf((AllOf((Words(("language",)), Words(("vision",)))), Words(("speech",))))]


@pytest.fixture(scope="module")
def sqlite_seed(tmp_path_factory):
    path = tmp_path_factory.mktemp("sqlite-seed") / "papers.db"
    migrate.upgrade(f"sqlite:///{path}")
    conn = connect(path)
    ingest(conn, [str(SEED_FILE)], fmt="seed", source="seed", quiet=True)
    yield conn
    conn.close()


@pytest.fixture
def seeded_conn(seeded_database):
    conn = connect(seeded_database)
    yield conn
    conn.close()


@pytest.mark.parametrize("text", QUERIES, ids=lambda t: PostgresEngine().render(t))
def test_matches_and_bm25_equal_sqlite_fts5(seeded_conn, sqlite_seed, text):
    conn = seeded_conn
    postgres, fts5 = PostgresEngine(), Fts5Engine()
    ids = postgres.match_ids(conn, text)
    assert ids == fts5.match_ids(sqlite_seed, text) and ids
    weights = (5.0, 1.0, 2.0)
    ours = dict(postgres.rank(conn, text, weights, ids, 0))
    theirs = dict(fts5.rank(sqlite_seed, text, weights, ids, 0))
    assert ours.keys() == theirs.keys()
    assert all(ours[i] == pytest.approx(theirs[i], rel=1e-6) for i in ids)
    everything = dict(postgres.rank(conn, text, weights, None, 0))
    assert everything == ours


@pytest.mark.parametrize("text", QUERIES, ids=lambda t: PostgresEngine().render(t))
def test_the_search_assembles_from_the_leaves_what_rank_gives_for_the_tree(seeded, text):
    """app/search/ranking.py sums phrase_scores; rank scores the whole tree: the same, bit for bit."""
    import numpy as np

    from app.db import reader
    from app.search import ranking
    from app.search.catalogue import catalogue

    conn = reader()
    cat = catalogue(conn)
    for words, _negated in _leaves(text):
        ranking.leaf(conn, cat, words)  # every leaf scored: the search assembles the tree
    scored = ranking.score(conn, cat, text)
    assembled = {int(i): float(scored.score[i]) for i in np.flatnonzero(scored.match)}
    assert assembled and assembled == dict(PostgresEngine().rank(conn, text, ranking.WEIGHTS, None, 0))


def test_words_scored_together_have_the_bits_of_words_scored_one_by_one(seeded_conn, monkeypatch):
    """The warm-up's one pass for many words (phrase_scores_many) gives every word, column-
    restricted word, phrase, prefix and absent word the very scores phrase_scores gives."""
    import numpy as np

    from app.engine import postgres

    engine = PostgresEngine()
    words = [Words((w,)) for w in ("language", "model", "graph", "the", "of", "learning", "zzzabsent")]
    words += [Words(("language",), columns=("title",)), Words(("models",), columns=("abstract",)),
              Words(("language", "models")), Words(("retriev",), prefix=True)]
    for weights in ((5.0, 1.0, 2.0), (1.0, 1.0, 1.0), (2.5, 0.3, 1.7)):
        # small bounds too: the papers and the words split over several statements
        for papers, postings in ((postgres.TOGETHER_PAPERS, postgres.TOGETHER_POSTINGS), (10, 50), (1, 10**9)):
            monkeypatch.setattr(postgres, "TOGETHER_PAPERS", papers)
            monkeypatch.setattr(postgres, "TOGETHER_POSTINGS", postings)
            together = engine.phrase_scores_many(seeded_conn, words, weights)
            assert len(together) == len(words)
            for leaf, (ids, scores) in zip(words, together):
                alone_ids, alone_scores = engine.phrase_scores(seeded_conn, leaf, weights)
                assert list(np.asarray(ids).tolist()) == list(alone_ids), leaf
                assert list(np.asarray(scores).tolist()) == list(alone_scores), leaf  # ==, to the bit


def test_highlights_mark_the_words_searched(seeded_database):
    conn = connect(seeded_database)
    engine = PostgresEngine()
    text = Words(("language", "models"))
    ids = engine.match_ids(conn, text)[:5]
    rows = [tuple(r) for r in conn.execute("SELECT id, title, abstract, authors FROM papers WHERE id <= ?"
                                           " ORDER BY id", (max(ids),))]
    marked = engine.highlight(text, rows, 24)
    assert marked.keys() == set(ids)
    for title, snippet in marked.values():
        assert "\ue000" in (title or "") + (snippet or "")
    conn.close()


def test_a_broken_server_connection_is_a_database_error():
    with pytest.raises(psycopg.OperationalError):
        connect("postgresql+psycopg://postgres@127.0.0.1:1/none")


def test_vocabulary_expansions_and_terms_agree_with_sqlite_fts5(seeded_conn, sqlite_seed):
    postgres, fts5 = PostgresEngine(), Fts5Engine()
    # The known differences (app/engine/postgres.py): words of one or two letters, which FTS5's
    # Porter leaves as they are and PostgreSQL's stems ("is" -> "i"), and the "-logies" of the
    # later Porter rule FTS5 follows (methodolog / methodologi). Everything else is equal.
    ours = {term: docs for term, (docs, _count) in postgres.vocabulary(seeded_conn, 2).items() if len(term) > 2}
    theirs = {term: docs for term, (docs, _count) in fts5.vocabulary(sqlite_seed, 2).items() if len(term) > 2}
    different = set(ours.items()) ^ set(theirs.items())
    assert len(ours) > 500 and {term.rstrip("i") for term, _docs in different} <= {"methodolog", "technolog"}
    for prefix in ("retriev", "lang", "mod", "zzz"):
        assert postgres.expansion(seeded_conn, prefix) == fts5.expansion(sqlite_seed, prefix)
    text = "Evaluated models of Núñez's 3D-aware agents"
    assert postgres.analyze(text) == fts5.analyze(text)
    terms = {"distillation": 2.0, "pruning": 1.0, "quantization": 1.5}
    assert postgres.similar(seeded_conn, terms, 5) == fts5.similar(sqlite_seed, terms, 5)


def test_a_second_writer_waits_for_the_first_then_is_told_the_database_is_locked(database):
    from app import pg

    first, second = connect(database), connect(database)
    try:
        first.execute("BEGIN IMMEDIATE")
        second.execute("PRAGMA busy_timeout = 200")  # as ingest/lock.py waits, slice by slice
        with pytest.raises(pg.LockNotAvailable, match="locked"):
            second.execute("BEGIN IMMEDIATE")
        assert not second.in_transaction
        first.execute("COMMIT")
        second.execute("BEGIN IMMEDIATE")
        second.execute("COMMIT")
    finally:
        first.close()
        second.close()


def test_health_says_postgresql_and_whether_it_reads_a_standby(client):
    body = client.get("/health").json()
    assert (body["status"], body["database"], body["standby"], body["papers"]) == ("ok", "postgresql", False, 93)


def test_db_check_and_optimize_work_on_postgresql(seeded, capsys):
    from app.cli import main

    assert main(["db", "check"]) == 0
    assert main(["db", "optimize"]) == 0
    assert "verified" in capsys.readouterr().err


def test_an_unreachable_server_is_one_error_line_and_exit_3(monkeypatch, capsys):
    from app.cli import main
    from app.settings import get_settings

    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:1/none")
    get_settings.cache_clear()
    try:
        assert main(["db", "upgrade"]) == 3
    finally:
        get_settings.cache_clear()
    err = capsys.readouterr().err
    assert err.startswith("error: cannot use the database at postgresql+psycopg://postgres@127.0.0.1:1/none")
