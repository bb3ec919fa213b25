"""One bad record costs that record, never the file: whatever fails inside parsing or validation
(dates past any calendar, numbers past Python's digit limit, arrays nested 100,000 deep, bytes that
are not UTF-8) is reported as FILE:LINE and every other record is loaded; a re-run changes nothing."""

import io
import json

import pytest

from app.ingest import EXIT_OK, EXIT_SKIPPED, ingest
from app.ingest.records import RecordError, parse_date, record_from_mapping

BAD_DATE = "Mon, 1 Jan 99999999999999999999 00:00:00 +0000"


def good(n: int) -> dict:
    return {"id": f"2601.{n:05d}", "title": f"Paper {n} on sparse experts",
            "abstract": f"We study topic {n} with a mixture of experts and more.", "authors": [f"Author {n}"],
            "published": "2026-01-02", "categories": ["cs.LG"]}


def run(conn, path, **kwargs):
    out = io.StringIO()
    stats, status = ingest(conn, [str(path)], quiet=True, out=out, **kwargs)
    return stats, status, out.getvalue()


def count(conn) -> int:
    return conn.execute("SELECT count(*) FROM papers").fetchone()[0]


# Raw JSON text of records no validator foresaw; each must be one skipped (or kept-without) record.
DEEP = "[" * 100_000 + "]" * 100_000
HUGE_INT = "9" * 5_000
HOSTILE_JSON = {
    "overflow-date": '{"title": "Overflow date", "abstract": "An abstract long enough.", "published": "%s"}' % BAD_DATE,
    "deep-title": '{"title": %s, "abstract": "An abstract long enough here."}' % DEEP,
    "deep-extra": '{"title": "Deep extra", "abstract": "An abstract long enough here.", "x": %s}' % DEEP,
    "huge-upvotes": '{"title": "Huge upvotes", "abstract": "An abstract long enough.", "upvotes": %s}' % HUGE_INT,
    "huge-title": '{"title": %s, "abstract": "An abstract long enough here."}' % HUGE_INT,
    "float-date": '{"title": "Float date", "abstract": "An abstract long enough.", "published": 1e400}',
    "lone-surrogate": '{"title": "Lone \\ud800 surrogate", "abstract": "An abstract \\udfff long enough."}',
    "dict-authors": '{"title": "Odd authors", "abstract": "An abstract long enough.", "authors": [{"name": [1]}]}',
}


def test_a_date_past_any_calendar_is_the_dates_failure_not_the_files():
    with pytest.raises(RecordError, match="unrecognised date"):
        parse_date(BAD_DATE)
    record = record_from_mapping({**good(1), "published": BAD_DATE})
    assert record.published is None and "dropped date" in record.dropped[0]


@pytest.mark.parametrize("fmt", ["jsonl", "json"])
def test_each_hostile_record_is_one_record_and_the_others_load(conn, tmp_path, fmt):
    names = list(HOSTILE_JSON)
    lines = [json.dumps(good(0))]
    for n, name in enumerate(names, start=1):
        lines += [HOSTILE_JSON[name], json.dumps(good(n))]
    path = tmp_path / f"hostile.{fmt}"
    path.write_text("\n".join(lines) + "\n" if fmt == "jsonl" else "[\n" + ",\n".join(lines) + "\n]\n")
    stats, status, report = run(conn, path)
    assert status in (EXIT_OK, EXIT_SKIPPED), report
    assert "Traceback" not in report
    keys = {row[0] for row in conn.execute("SELECT key FROM papers")}
    assert {good(n)["id"] for n in range(len(names) + 1)} <= keys, report
    # Every hostile record is accounted for on its own line: skipped, or kept without the bad field.
    for n in range(1, len(names) + 1):
        line = 2 * n  # the hostile record's line in the file (JSON: one element a line, after "[")
        line += 1 if fmt == "json" else 0
        if names[n - 1] == "lone-surrogate":
            continue  # valid JSON: the surrogates are invisible characters, removed (below)
        assert f"{path}:{line}: " in report, (names[n - 1], report)
    stored = [row[0] for row in conn.execute("SELECT title FROM papers WHERE title LIKE 'Lone%'")]
    assert stored == ["Lone surrogate"]
    assert stats.read == 2 * len(names) + 1


def test_bytes_that_are_not_utf8_cost_those_bytes_not_the_record(conn, tmp_path):
    # Latin-1 text in a UTF-8 file: each odd byte is read as U+FFFD, the record is kept and said.
    path = tmp_path / "bytes.jsonl"
    path.write_bytes(json.dumps(good(1)).encode() + b"\n"
                     + b'{"id": "2401.00003", "title": "Caf\xe9 models", "abstract": "Na\xefve abstract."}\n'
                     + json.dumps(good(2)).encode() + b"\n" + b'{"title": "Broken \xff, "abstract": "x"}\n')
    stats, status, report = run(conn, path)
    assert (stats.inserted, stats.kept, stats.skipped, status) == (3, 1, 1, EXIT_SKIPPED), report
    assert f"{path}:2: kept, replaced invalid UTF-8 at byte 34" in report
    assert f"{path}:4: skipped: invalid JSON" in report  # still not JSON once the byte is replaced
    assert tuple(conn.execute("SELECT title, abstract FROM papers WHERE arxiv_id = '2401.00003'").fetchone()) == (
        "Caf\ufffd models", "Na\ufffdve abstract.")


def test_a_json_document_with_bytes_that_are_not_utf8_keeps_every_record(conn, tmp_path):
    path = tmp_path / "bytes.json"
    path.write_bytes(b"[\n" + json.dumps(good(1)).encode() + b",\n"
                     + b'{"title": "Caf\xe9 models", "abstract": "An abstract."},\n'
                     + json.dumps(good(2)).encode() + b"\n]\n")
    stats, status, report = run(conn, path)
    assert (stats.inserted, stats.kept, stats.skipped, status) == (3, 1, 0, EXIT_OK), report
    assert f"{path}:3: kept, replaced invalid UTF-8" in report
    assert f"{path}:2: " not in report and f"{path}:4: " not in report


def test_a_numeric_id_is_dropped_and_said(conn, tmp_path):
    # JSON numbers lose trailing zeros (2310.06820 is 2310.0682): never taken as an arXiv id.
    path = tmp_path / "numeric.jsonl"
    path.write_text(json.dumps({"id": 2310.0682, "title": "A numeric id", "abstract": "Some abstract."}) + "\n"
                    + json.dumps({"id": 2310.0683, "title": "A numeric id, and its page",
                                  "abstract": "Some abstract.", "url": "https://arxiv.org/abs/2310.06830"}) + "\n")
    stats, status, report = run(conn, path)
    assert (stats.inserted, stats.kept, status) == (2, 1, EXIT_OK), report
    assert f"{path}:1: kept, dropped id '2310.0682' (not a string)" in report
    assert f"{path}:2: " not in report  # the page gives the id
    assert {row[0] for row in conn.execute("SELECT arxiv_id FROM papers")} == {None, "2310.06830"}


def test_a_byte_order_mark_does_not_cost_the_first_record(conn, tmp_path):
    path = tmp_path / "bom.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(good(1)).encode() + b"\n" + json.dumps(good(2)).encode() + b"\n")
    stats, status, report = run(conn, path)
    assert (stats.inserted, stats.skipped, status) == (2, 0, EXIT_OK), report


def test_thirty_thousand_lines_with_a_bad_record_in_the_middle_all_load_and_a_rerun_changes_nothing(
        conn, tmp_path):
    path = tmp_path / "big.jsonl"  # over 4 MiB: parsed in a second process, as a real file is
    with path.open("w") as out:
        for n in range(1, 30_001):
            if n == 15_000:  # the date of the issue, and a title nested 100,000 deep
                out.write('{"title": %s, "abstract": "x", "published": "%s"}\n' % (DEEP, BAD_DATE))
                continue
            record = good(n)
            record["abstract"] += " Padding to make the file as large as a real one. " * 2
            out.write(json.dumps(record) + "\n")
    assert path.stat().st_size > 4 * 1024 * 1024
    stats, status, report = run(conn, path)
    assert (stats.read, stats.inserted, stats.skipped) == (30_000, 29_999, 1), report
    assert f"{path}:15000: skipped" in report and "Traceback" not in report
    assert status == EXIT_SKIPPED and count(conn) == 29_999
    again, status, _ = run(conn, path)
    assert (again.inserted, again.updated, again.unchanged, again.skipped) == (0, 0, 29_999, 1)
    assert count(conn) == 29_999
