"""Loading fast without loading differently: the one-transaction load into an empty catalogue,
and JSON Lines re-ingest by line hash, each compared with the plain batch-by-batch reading."""

import hashlib
import io
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

import app.ingest
from app import tagging
from app.db import connect, is_postgres, transaction
from app.engine import get_engine
from app.ingest import ingest, parsers
from app.ingest.load import Loader
from app.ingest.parsers import parse_jsonl
from app.plan import AnyOf, Words

BASE = "We study sparse mixtures of experts and knowledge distillation in language models."


def record(n, **fields):
    return {"id": f"2401.{n:05d}", "title": f"Paper {n} on distillation", "abstract": f"{BASE} Case {n}.",
            "authors": [f"Author {n % 7}", "Shared Author"], "published": "2024-01-15",
            "categories": ["cs.LG", "cs.CL"], **fields}


def lines(records) -> str:
    return "".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records)


# Every way a line can relate to the paper it reaches: new, the same paper twice in one
# file (v1 then v2), an exact duplicate line, a record without an id merging by title,
# a record kept with a dropped field, blank lines, a record that is skipped.
FIRST = [record(n) for n in range(1, 21)] + [
    record(30, abstract="First version."), record(30, abstract="Second version."),
    record(31), record(31),
    {"title": "Paper 5 on distillation", "abstract": "The same title, no id: merges into 2401.00005."},
    {"title": "A paper known by title only", "abstract": "No identifier at all."},
    record(32, published="last Tuesday"),
    "",
    {"id": "2401.00033", "title": "No abstract"},
    "not json",
]
# A second file touching some of the same papers.
SECOND = [record(1, abstract="Rewritten by another file."), record(2), record(30, abstract="First version."),
          {"title": "A paper known by title only", "abstract": "Rewritten, still no identifier."}]


def catalogue(conn) -> dict:
    """What a reader sees, independent of row ids and timestamps."""
    queries = {
        "papers": "SELECT key, arxiv_id, title, abstract, authors, categories, classifications, published, url"
                  " FROM papers ORDER BY key",
        "authors": "SELECT p.key, pa.position, a.name FROM paper_authors pa JOIN papers p ON p.id = pa.paper_id"
                   " JOIN authors a ON a.id = pa.author_id ORDER BY 1, 2",
        "tags": "SELECT p.key, t.slug FROM paper_tags pt JOIN papers p ON p.id = pt.paper_id"
                " JOIN tags t ON t.id = pt.tag_id ORDER BY 1, 2",
        "aliases": "SELECT a.key, p.key FROM aliases a JOIN papers p ON p.id = a.paper_id ORDER BY 1",
    }
    seen = {name: [tuple(r) for r in conn.execute(sql)] for name, sql in queries.items()}
    # What the search engine finds, and its own index (FTS5's table, or PostgreSQL's statistics).
    engine = get_engine(conn)
    keys = dict(conn.execute("SELECT id, key FROM papers"))
    words = AnyOf(tuple(Words((w,)) for w in ("distillation", "version", "identifier")))
    seen["found"] = sorted(keys[i] for i in engine.match_ids(conn, words))
    assert engine.check(conn) == []
    seen["indexed"] = conn.execute("SELECT docs FROM search_stats" if is_postgres(conn)
                                   else "SELECT count(*) FROM papers_fts_docsize").fetchone()[0]
    return seen


def run(conn, path):
    out = io.StringIO()
    stats, status = ingest(conn, [str(path)], quiet=True, out=out)
    return stats, status, out.getvalue().replace(str(path), "FILE")


@pytest.fixture
def reference(new_database):
    """A second catalogue."""
    conn = connect(new_database("reference"))
    yield conn
    conn.close()


def read_in_full(monkeypatch):
    """No line is looked up, in this process or in the parsing one: every record is parsed."""
    monkeypatch.setattr(app.ingest, "catalogue_lookup", lambda conn: (lambda hashes: {}))
    monkeypatch.setattr(app.ingest, "_database_file", lambda conn: None)


def count_parsed(monkeypatch) -> list:
    parsed = []
    original = parsers.record_from_mapping
    monkeypatch.setattr(parsers, "record_from_mapping", lambda obj: parsed.append(obj) or original(obj))
    return parsed


def test_unchanged_lines_are_counted_without_being_parsed(conn, tmp_path, monkeypatch):
    path = tmp_path / "a.jsonl"
    path.write_text(lines(record(n) for n in range(1, 51)))
    first, _, _ = run(conn, path)
    parsed = count_parsed(monkeypatch)
    again, status, report = run(conn, path)
    assert (first.inserted, again.read, again.unchanged, again.inserted + again.updated) == (50, 50, 50, 0)
    assert parsed == [] and status == 0
    path.write_text(lines([record(n) for n in range(1, 50)] + [record(50, title="Paper 50, retitled")]))
    changed, _, _ = run(conn, path)
    assert (changed.unchanged, changed.updated, len(parsed)) == (49, 1, 1)


def test_reingest_by_line_hash_ends_where_a_full_reading_does(conn, reference, tmp_path, monkeypatch):
    first, second = tmp_path / "first.jsonl", tmp_path / "second.jsonl"
    first.write_text(lines(FIRST))
    second.write_text(lines(SECOND))
    steps = [first, first, second, first, first]
    ours = [run(conn, path) for path in steps]
    read_in_full(monkeypatch)
    theirs = [run(reference, path) for path in steps]
    for step, (mine, full) in enumerate(zip(ours, theirs, strict=True)):
        assert mine[0] == full[0] and mine[1:] == full[1:], f"step {step}: {mine} != {full}"
    assert catalogue(conn) == catalogue(reference)
    # The kept and skipped records are reported on every run, as a full reading reports them.
    assert all("FILE:27: kept, dropped date 'last Tuesday'" in report for _s, _c, report in ours[:2])
    assert all("FILE:29: skipped" in report for _s, _c, report in ours[:2])
    # Re-reading the first file after the second gives 2401.00001 its first abstract back; then
    # each reading of the first file does what the one before did (v1 then v2 of 2401.00030,
    # 2401.00005 then the record merged into it by title are written again each time).
    assert ours[3][0].updated > ours[4][0].updated and ours[1] == ours[4]


def test_a_paper_rewritten_from_another_source_is_written_back(conn, tmp_path):
    jsonl, array = tmp_path / "a.jsonl", tmp_path / "b.json"
    jsonl.write_text(lines([record(1), record(2)]))
    array.write_text(json.dumps([record(1, abstract="From a JSON array.")]))
    run(conn, jsonl)
    assert run(conn, array)[0].updated == 1
    again = run(conn, jsonl)[0]
    assert (again.updated, again.unchanged) == (1, 1)
    assert conn.execute("SELECT abstract FROM papers WHERE arxiv_id = '2401.00001'").fetchone()[0].startswith(BASE)


def test_only_whole_records_with_an_arxiv_id_keep_their_line_hash(conn, tmp_path):
    path = tmp_path / "a.jsonl"
    path.write_text(lines(FIRST))
    run(conn, path)
    hashed = dict(conn.execute("SELECT key, line_hash IS NOT NULL FROM papers"))
    assert hashed["2401.00001"] and hashed["2401.00031"]
    assert not hashed["2401.00032"]  # its date was dropped: read in full every time, and reported
    assert sum(1 for key, has in hashed.items() if not key.startswith("2401.") and has) == 0


def test_forgotten_hashes_are_learned_again_by_a_full_reading(conn, tmp_path, monkeypatch):
    path = tmp_path / "a.jsonl"
    path.write_text(lines(record(n) for n in range(1, 11)))
    run(conn, path)
    conn.execute("UPDATE papers SET line_hash = NULL")  # as after a new version of the parser
    parsed = count_parsed(monkeypatch)
    assert run(conn, path)[0].unchanged == 10 and len(parsed) == 10
    assert run(conn, path)[0].unchanged == 10 and len(parsed) == 10


def test_the_parsing_process_skips_the_lines_the_catalogue_holds(conn, reference, tmp_path, monkeypatch):
    # Over 4 MiB: parsed in a second process, which looks the hashes up itself.
    filler = " ".join(hashlib.sha1(str(k).encode()).hexdigest() for k in range(40))
    records = [record(n, abstract=f"{BASE} {filler} {n}") for n in range(1, 2_601)]
    path = tmp_path / "big.jsonl"
    path.write_text(lines(records))
    assert path.stat().st_size > app.ingest.worker.MIN_BYTES
    records[10] = record(11, abstract="Changed.")
    records[2_000] = record(2_001, title="Retitled")
    changed = tmp_path / "changed.jsonl"
    changed.write_text(lines(records + [record(11, abstract="Changed again.")]))
    ours = [run(conn, p)[0] for p in (path, path, changed)]
    read_in_full(monkeypatch)
    theirs = [run(reference, p)[0] for p in (path, path, changed)]
    assert ours == theirs
    assert (ours[1].unchanged, ours[2].updated, ours[2].unchanged) == (2_600, 3, 2_598)
    assert catalogue(conn) == catalogue(reference)


def test_a_load_into_an_empty_catalogue_equals_a_load_batch_by_batch(conn, reference, tmp_path):
    path = tmp_path / "a.jsonl"
    path.write_text(lines(FIRST + SECOND + [record(n) for n in range(100, 160)]))
    for target, bulk in ((conn, True), (reference, False)):
        with transaction(target):
            tagging.sync_topics(target)
        loader = Loader(target, "test")
        with open(path, "rb") as stream:
            stats = loader.load(parse_jsonl(stream), batch_size=7, bulk=bulk)
        assert (stats.read, stats.skipped) == (len(FIRST + SECOND) + 60 - 1, 2)  # the blank line is no record
    assert catalogue(conn) == catalogue(reference)
    if is_postgres(conn):
        triggers = "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal AND tgenabled <> 'D' ORDER BY 1"
        indexes = "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' ORDER BY 1"
    else:
        triggers = "SELECT name FROM sqlite_master WHERE type = 'trigger' ORDER BY name"
        indexes = "SELECT name, sql FROM sqlite_master WHERE type = 'index' ORDER BY name"
    assert [r[0] for r in conn.execute(triggers)] == [r[0] for r in reference.execute(triggers)]
    # The look-up indexes the bulk path builds at its end are there, as the schema defines them.
    assert conn.execute(indexes).fetchall() == reference.execute(indexes).fetchall()
    assert {r[0] for r in conn.execute(indexes)} >= set(Loader.DEFERRED_INDEXES)
    assert len(catalogue(conn)["tags"]) > 60  # categories and topics, tagged once at the end


def test_a_large_load_judges_in_processes_started_before_the_index_build(conn, reference, tmp_path, monkeypatch):
    """Past PARALLEL_PAIRS papers, the evidence judges start before the index is built (their
    start overlaps it), and the load ends as one judged in this process does."""
    path = tmp_path / "a.jsonl"
    path.write_text(lines(FIRST + SECOND + [record(n) for n in range(100, 160)]))
    events = []
    start, rebuild = tagging.Judges.__init__, type(get_engine(conn)).rebuild
    monkeypatch.setattr(tagging.Judges, "__init__", lambda self, rules: events.append("judges") or start(self, rules))
    monkeypatch.setattr(type(get_engine(conn)), "rebuild", lambda self, c: events.append("rebuild") or rebuild(self, c))
    for target, parallel_pairs in ((conn, 1), (reference, 10**9)):
        monkeypatch.setattr(tagging, "PARALLEL_PAIRS", parallel_pairs)
        monkeypatch.setattr(tagging, "WORKERS", 2)
        with transaction(target):
            tagging.sync_topics(target)
        with open(path, "rb") as stream:
            Loader(target, "test").load(parse_jsonl(stream), batch_size=7, bulk=True)
    assert events[:2] == ["judges", "rebuild"] and events.count("judges") == 1
    assert catalogue(conn) == catalogue(reference)
    assert len([tag for _key, tag in catalogue(conn)["tags"] if not tag.startswith("cs.")]) > 20


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads the process table from /proc")
def test_the_parsing_process_ends_when_the_writer_is_killed(tmp_path, new_database, backend):
    filler = " ".join(hashlib.sha1(str(k).encode()).hexdigest() for k in range(40))
    path = tmp_path / "big.jsonl"
    path.write_text(lines(record(n, abstract=f"{BASE} {filler} {n}") for n in range(1, 20_001)))
    env = {**os.environ, "DATA_DIR": str(tmp_path / "data")}
    env.pop("DATABASE_URL", None)
    if backend == "postgres":
        env["DATABASE_URL"] = new_database("killed")
    writer = subprocess.Popen([sys.executable, "-m", "app.cli", "ingest", "--quiet", str(path)], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while not (parsers := _children(writer.pid)):
            assert time.monotonic() < deadline and writer.poll() is None, "no parsing process started"
            time.sleep(0.05)
        time.sleep(1)
    finally:
        writer.kill()
        writer.wait()
    deadline = time.monotonic() + 30
    while any(Path(f"/proc/{pid}").exists() for pid in parsers):
        assert time.monotonic() < deadline, f"parsing processes {parsers} outlived the writer"
        time.sleep(0.2)
