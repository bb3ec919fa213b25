"""The catalogue's paper count (health probes, sitemaps) comes from the in-memory catalogue
of the current database state when one is built: probes ask often, and counting the table
is not free (over a second for a million rows on PostgreSQL)."""

import json

from app import papers
from app.db import connect, reader
from app.search.catalogue import catalogue, current, forget


def load(database, tmp_path, name, records):
    from app.ingest import ingest
    source = tmp_path / name
    source.write_text("\n".join(json.dumps(r) for r in records) + "\n", encoding="utf-8")
    conn = connect(database)
    try:
        assert ingest(conn, [str(source)], fmt="jsonl", source="test", quiet=True)[1] == 0
    finally:
        conn.close()


def paper(n):
    return {"id": f"2601.{n:05d}", "title": f"Paper number {n}", "abstract": f"Abstract of paper {n}.",
            "authors": ["Ada Lovelace"], "published": "2026-01-01"}


def test_the_count_is_the_current_catalogues_and_follows_each_new_state(database, tmp_path):
    load(database, tmp_path, "a.jsonl", [paper(n) for n in range(3)])
    forget()
    assert current(reader()) is None
    assert papers.paper_count() == 3                       # counted: nothing built yet
    built = catalogue(reader())
    assert current(reader()) is built
    statements = []
    conn = reader()
    if hasattr(conn, "set_trace_callback"):                # SQLite: see what reaches the database
        conn.set_trace_callback(statements.append)
    try:
        assert papers.paper_count() == 3
    finally:
        if hasattr(conn, "set_trace_callback"):
            conn.set_trace_callback(None)
    assert not any("count(" in s.lower() for s in statements)
    load(database, tmp_path, "b.jsonl", [paper(n) for n in range(3, 5)])
    assert current(reader()) is None            # a new state: the built one is stale
    assert papers.paper_count() == 5
