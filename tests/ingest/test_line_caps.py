"""One 4 MiB cap for every format (JSON Lines lines, seed paragraphs, JSON elements, XML records,
compressed or not), skipped with FILE:LINE; never held in memory past the cap; a decompression bomb
is refused with exit status 2 after the records before it are loaded."""

import gzip
import io
import json
import tracemalloc

import pytest

from app.ingest import EXIT_UNREADABLE, ingest
from app.ingest.parsers import MAX_LINE_BYTES, open_input, parse
from app.ingest.records import RecordError

OVER = MAX_LINE_BYTES + 1024


def record(n: int) -> dict:
    return {"id": f"2601.{n:05d}", "title": f"Paper {n} on sparse experts",
            "abstract": f"We study topic {n} with a mixture of experts and more."}


def seed_pair(n: int) -> str:
    return (f"Paper {n} on sparse experts\n\n"
            f"We study topic {n} with a mixture of experts, a long enough abstract to be one, and more.\n\n")


def run(conn, path):
    out = io.StringIO()
    stats, status = ingest(conn, [str(path)], quiet=True, out=out)
    return stats, status, out.getvalue()


def peak_while_parsing(path, fmt: str) -> tuple[int, list]:
    """Peak Python memory while parsing `path`, and what the parser yielded (line, type, message)."""
    tracemalloc.start()
    try:
        with open_input(str(path)) as source:
            items = [(line, type(item).__name__, str(item) if isinstance(item, RecordError) else item.title)
                     for line, item in parse(source.stream, fmt)]
        return tracemalloc.get_traced_memory()[1], items
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("compressed", [False, True])
def test_an_overlong_jsonl_line_is_skipped_with_its_line(conn, tmp_path, compressed):
    huge = json.dumps({**record(2), "abstract": "x" * OVER})
    text = "\n".join([json.dumps(record(1)), huge, json.dumps(record(3))]) + "\n"
    path = tmp_path / ("a.jsonl.gz" if compressed else "a.jsonl")
    path.write_bytes(gzip.compress(text.encode(), 1) if compressed else text.encode())
    stats, _, report = run(conn, path)
    assert (stats.inserted, stats.skipped) == (2, 1)
    assert f"{path}:2: skipped: line longer than 4 MiB" in report


def test_an_overlong_seed_paragraph_is_skipped_and_the_pairs_around_it_load(conn, tmp_path):
    # A paragraph of many short lines is as long as one long line: the cap is per paragraph.
    lines = ("A line of a paragraph that never ends. " * 3 + "\n") * (OVER // 100)
    path = tmp_path / "page.txt"
    path.write_text(seed_pair(1) + lines + "\n" + seed_pair(2))
    stats, _, report = run(conn, path)
    assert stats.inserted == 2, report
    assert f"{path}:5: skipped: paragraph longer than 4 MiB" in report


def test_one_seed_line_past_the_cap_is_never_held_whole(tmp_path):
    path = tmp_path / "page.txt"
    with path.open("w") as out:
        out.write(seed_pair(1))
        out.write("y" * (10 * MAX_LINE_BYTES) + "\n\n")
        out.write(seed_pair(2))
    peak, items = peak_while_parsing(path, "seed")
    assert [(line, kind) for line, kind, _ in items] == [(1, "PaperIn"), (5, "RecordError"), (7, "PaperIn")]
    assert "longer than 4 MiB" in items[1][2]
    assert peak < 3 * MAX_LINE_BYTES, f"peak {peak:,} bytes"


def test_one_jsonl_line_past_the_cap_is_never_held_whole(tmp_path):
    path = tmp_path / "a.jsonl"
    with path.open("w") as out:
        out.write(json.dumps(record(1)) + "\n" + "z" * (10 * MAX_LINE_BYTES) + "\n" + json.dumps(record(2)) + "\n")
    peak, items = peak_while_parsing(path, "jsonl")
    assert [(line, kind) for line, kind, _ in items] == [(1, "PaperIn"), (2, "RecordError"), (3, "PaperIn")]
    assert peak < 3 * MAX_LINE_BYTES, f"peak {peak:,} bytes"


def test_a_json_element_past_the_cap_is_skipped(conn, tmp_path):
    path = tmp_path / "a.json"
    path.write_text(json.dumps([record(1), {**record(2), "padding": "p" * OVER}, record(3)], indent=0))
    stats, _, report = run(conn, path)
    assert (stats.inserted, stats.skipped) == (2, 1)
    assert "skipped: record longer than 4 MiB" in report


def test_an_xml_record_past_the_cap_is_skipped(conn, tmp_path):
    def oai(n: int, abstract: str) -> str:
        return (f"<record><header><identifier>oai:arXiv.org:2601.{n:05d}</identifier></header><metadata>"
                f'<arXiv xmlns="http://arxiv.org/OAI/arXiv/"><id>2601.{n:05d}</id>'
                f"<title>Paper {n} on experts</title><abstract>{abstract}</abstract></arXiv></metadata></record>\n")
    path = tmp_path / "page.xml"
    path.write_text('<OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/"><ListRecords>\n'
                    + oai(1, "An abstract about experts.") + oai(2, "a" * OVER) + oai(3, "Another abstract.")
                    + "</ListRecords></OAI-PMH>\n")
    stats, _, report = run(conn, path)
    assert (stats.inserted, stats.skipped) == (2, 1), report
    assert f"{path}:3: skipped: record longer than 4 MiB" in report


@pytest.mark.parametrize("fmt", ["jsonl", "seed"])
def test_a_decompression_bomb_is_refused_with_exit_2_after_the_records_before_are_loaded(conn, tmp_path, fmt):
    path = tmp_path / f"bomb.{'jsonl' if fmt == 'jsonl' else 'txt'}.gz"
    with gzip.open(path, "wb", compresslevel=9) as out:
        for n in (1, 2):
            out.write((json.dumps(record(n)) + "\n" if fmt == "jsonl" else seed_pair(n)).encode())
        block = b"a" * (1 << 20)
        for _ in range(64):  # one 64 MiB line, about 64 kB compressed
            out.write(block)
        out.write(b"\n" + (json.dumps(record(3)) + "\n" if fmt == "jsonl" else seed_pair(3)).encode())
    assert path.stat().st_size < 200_000
    stats, status, report = run(conn, path)
    assert status == EXIT_UNREADABLE, report
    assert stats.inserted == 2, report
    assert "refused as a decompression bomb; the records before were loaded" in report


def test_well_compressed_real_data_is_not_a_bomb(conn, tmp_path):
    path = tmp_path / "repetitive.jsonl.gz"
    with gzip.open(path, "wb", compresslevel=9) as out:
        for n in range(1, 60_001):  # about 8 MiB of very similar records: 20 to 30 times smaller
            out.write((json.dumps(record(n)) + "\n").encode())
    with open_input(str(path)) as source:
        assert sum(1 for _ in parse(source.stream, "jsonl")) == 60_000
