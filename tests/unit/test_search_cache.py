"""Finished results are cached per catalogue, and a database change makes them fresh again."""

import io
import json

from app.ingest import ingest
from app.search import SearchParams, run


def _load(conn, path, *titles):
    path.write_text("".join(json.dumps({"title": t, "abstract": f"About {t} and sparse routing."}) + "\n"
                            for t in titles))
    ingest(conn, [str(path)], quiet=True, out=io.StringIO())


def test_the_same_view_is_answered_from_the_cache(conn, tmp_path):
    _load(conn, tmp_path / "a.jsonl", "Routing one")
    first = run(SearchParams(q="routing"))
    assert run(SearchParams(q="routing")) is first


def test_new_papers_are_found_after_a_write(conn, tmp_path):
    _load(conn, tmp_path / "a.jsonl", "Routing one")
    assert run(SearchParams(q="routing")).total == 1
    _load(conn, tmp_path / "b.jsonl", "Routing two", "Routing three")
    assert run(SearchParams(q="routing")).total == 3
