"""Parsers: each format and its variants, line numbers of bad records, format detection."""

import gzip
import io
import json
import os
import threading

import pytest

from app.ingest.parsers import InputError, detect_format, open_input, parse, readable_ahead
from app.ingest.records import PaperIn, RecordError
from app.settings import SEED_FILE


def parsed(data: bytes, fmt: str):
    return list(parse(io.BufferedReader(io.BytesIO(data)), fmt))


def good(items):
    return [item for _line, item in items if isinstance(item, PaperIn)]


def errors(items):
    return [(line, str(item)) for line, item in items if isinstance(item, RecordError)]


def test_seed_page_yields_its_93_papers_without_chrome():
    with open_input(str(SEED_FILE)) as source:
        items = list(parse(source.stream, "seed"))
    assert len(good(items)) == 93 and not errors(items)
    assert good(items)[0].title.startswith("SongGen")


def test_seed_pairs_report_their_title_line():
    text = b"new\n\nSubscribe\n\nA Title\n\n" + b"An abstract that is long enough to be an abstract. " * 3 + b"\n"
    items = parsed(text, "seed")
    assert items[0][0] == 5 and items[0][1].title == "A Title"


def test_seed_bytes_that_are_not_utf8_are_replaced_and_said():
    abstract = b"An abstract that is long enough to be an abstract. " * 3
    text = b"Caf\xe9 title\n\n" + abstract + b"\n\nClean title\n\n" + abstract + b"\xff\n"
    items = parsed(text, "seed")
    assert [p.title for p in good(items)] == ["Caf\ufffd title", "Clean title"]
    assert [p.dropped for p in good(items)] == [("replaced invalid UTF-8",)] * 2  # title's, abstract's
    assert not errors(items)


def test_seed_orphan_title_after_papers_is_reported():
    abstract = b"An abstract that is long enough to be an abstract. " * 3
    text = b"T1\n\n" + abstract + b"\n\nOrphan title\n\nT2\n\n" + abstract + b"\n"
    items = parsed(text, "seed")
    assert [p.title for p in good(items)] == ["T1", "T2"]
    assert errors(items) == [(5, "title without an abstract: 'Orphan title'")]


def test_jsonl_bad_lines_are_reported_with_line_numbers_and_good_ones_kept():
    lines = [
        json.dumps({"title": "Good one", "abstract": "Fine."}).encode(),
        b"{not json",
        json.dumps({"title": "No abstract"}).encode(),
        b"",
        b'{"title": "Bad \xff utf8", "abstract": "x"}',
        json.dumps({"title": "Good two", "abstract": "Fine too."}).encode(),
        b'{"title": "Odd key", "abstr\xe4ct": "x"}',
    ]
    items = parsed(b"\n".join(lines) + b"\n", "jsonl")
    # A byte that is not UTF-8 is read as U+FFFD: the record is kept, with a note.
    assert [p.title for p in good(items)] == ["Good one", "Bad \ufffd utf8", "Good two"]
    assert [p.dropped for p in good(items)][1] == ("replaced invalid UTF-8 at byte 15",)
    found = errors(items)
    assert [line for line, _ in found] == [2, 3, 7]
    assert "invalid JSON" in found[0][1]
    assert "missing abstract" in found[1][1]
    assert found[2][1] == "missing abstract (and replaced invalid UTF-8 at byte 27)"


def test_jsonl_over_long_line_is_skipped_not_buffered(monkeypatch):
    import app.ingest.parsers as parsers

    monkeypatch.setattr(parsers, "MAX_LINE_BYTES", 100)
    ok = json.dumps({"title": "Fits", "abstract": "Short."}).encode()
    items = parsed(b'{"title": "' + b"x" * 500 + b'"}\n' + ok + b"\n", "jsonl")
    assert [p.title for p in good(items)] == ["Fits"]
    assert errors(items)[0][0] == 1 and "line longer" in errors(items)[0][1]


def test_json_array_items_keep_their_line_numbers():
    data = b'[\n  {"title": "One", "abstract": "A."},\n  {"title": "Two"},\n  {"title": "Three", "abstract": "C."}\n]'
    items = parsed(data, "json")
    assert [p.title for p in good(items)] == ["One", "Three"]
    assert errors(items) == [(3, "missing abstract")]


def test_json_object_with_papers_array():
    data = json.dumps({"papers": [{"title": "One", "abstract": "A."}]}, indent=1).encode()
    assert [p.title for p in good(parsed(data, "json"))] == ["One"]


def test_json_document_that_is_not_a_list_is_an_input_error():
    with pytest.raises(InputError, match="array"):
        parsed(b'{"title": "One"}', "json")


def test_json_truncated_array_keeps_what_came_before():
    items = parsed(b'[{"title": "One", "abstract": "A."}, {"title": "Tw', "json")
    assert [p.title for p in good(items)] == ["One"]
    assert "unreadable" in errors(items)[0][1]


def test_gzip_is_recognised_by_content(tmp_path):
    path = tmp_path / "papers.data"
    path.write_bytes(gzip.compress(json.dumps({"title": "Zipped", "abstract": "A."}).encode() + b"\n"))
    with open_input(str(path)) as source:
        assert detect_format(str(path), source.stream) == "jsonl"
        assert good(parse(source.stream, "jsonl"))[0].title == "Zipped"


ATOM = b'<?xml version="1.0"?>\n<!-- saved -->\n<ns0:feed xmlns:ns0="http://www.w3.org/2005/Atom"></ns0:feed>'
OAI_ERROR = (b'<?xml version="1.0" encoding="UTF-8"?>\n<OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/">'
             b'<responseDate>2026-01-01T00:00:00Z</responseDate><request verb="ListRecords">x</request>'
             b'<error code="badResumptionToken">The token is invalid or expired.</error></OAI-PMH>')


@pytest.mark.parametrize("name, content, expected", [
    ("x.jsonl", b"", "jsonl"),
    ("x.json.gz", b"", "json"),
    ("x.txt", b"", "seed"),
    ("x", b'  [{"title": 1}]', "json"),
    ("x", b'{"title": "a", "abstract": "b"}\n{"title": "c"}', "jsonl"),
    ("x", b'{\n "papers": []\n}', "json"),
    ("x", b"Some page\n\nTitle\n", "seed"),
    # arXiv's metadata snapshot is JSON Lines in a file named .json
    ("arxiv-metadata-oai-snapshot.json", b'{"id": "0704.0001", "title": "a"}\n{"id": "0704.0002"}\n', "jsonl"),
    ("x.json", b'{"papers": [{"title": "a", "abstract": "b"}]}', "json"),
    ("x.json", b'{\n  "papers": [\n', "json"),
    ("x", b'{"papers": [\n{"title": "a", "abstract": "b"}\n]}\n', "json"),
    ("x", b'{"title": "first line broken\n{"title": "a", "abstract": "b"}\n', "jsonl"),
    ("x", b"\xef\xbb\xbf" + ATOM, "atom"),
    ("x.xml", ATOM, "atom"),
    ("x", "<?xml version='1.0' encoding='UTF-16'?>\n<OAI-PMH/>".encode("utf-16"), "oai"),
    ("x.atom", b"not xml at all", "atom"),
    ("x.xml", b"not xml at all", "oai"),
])
def test_format_detection(name, content, expected):
    # By content before extension, where the content tells.
    assert detect_format(name, io.BufferedReader(io.BytesIO(content))) == expected


class _Trickle(io.RawIOBase):
    """A pipe that gives a few bytes at a time."""

    def __init__(self, data: bytes, step: int):
        self.data, self.step = data, step

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        n = min(self.step, len(buffer), len(self.data))
        buffer[:n], self.data = self.data[:n], self.data[n:]
        return n


@pytest.mark.parametrize("first_line_bytes, step", [(300_000, 1 << 16), (200, 7)])
def test_json_lines_are_recognised_however_long_the_first_line_and_however_slow_the_pipe(
        tmp_path, first_line_bytes, step):
    lines = [json.dumps({"title": f"Paper {n}", "abstract": "An abstract.",
                         "comments": "x" * (first_line_bytes if n == 0 else 50)}) for n in range(3)]
    data = "\n".join(lines).encode() + b"\n"
    stream = readable_ahead(io.BufferedReader(_Trickle(data, step)))
    assert detect_format("-", stream) == "jsonl"
    assert [p.title for p in good(parse(stream, "jsonl"))] == ["Paper 0", "Paper 1", "Paper 2"]
    path = tmp_path / "papers.gz"  # no telling extension, compressed
    path.write_bytes(gzip.compress(data))
    with open_input(str(path)) as source:
        assert detect_format(str(path), source.stream) == "jsonl"
        assert len(good(parse(source.stream, "jsonl"))) == 3


def test_an_oai_error_response_is_reported_not_loaded_as_nothing(tmp_path):
    path = tmp_path / "page.xml"
    path.write_bytes(OAI_ERROR)
    with open_input(str(path)) as source:
        assert detect_format(str(path), source.stream) == "oai"
        with pytest.raises(InputError, match="badResumptionToken: The token is invalid"):
            list(parse(source.stream, "oai"))


def test_missing_file_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        open_input(str(tmp_path / "absent.jsonl"))


def test_directory_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="directory"):
        open_input(str(tmp_path))


def test_a_lone_surrogate_escape_costs_a_character_not_the_record():
    # Half an emoji cut off by a scraper: valid JSON that some parsers refuse.
    items = parsed(b'{"title": "Emoji cut \\ud83d here", "abstract": "A."}\n{"title": "Next", "abstract": "B."}\n',
                   "jsonl")
    assert [p.title for p in good(items)] == ["Emoji cut here", "Next"] and errors(items) == []
    assert errors(parsed(b'{"title": NaN-ish}\n', "jsonl"))  # still invalid is still skipped


LONG_ABSTRACT = "This abstract is long enough to be read as an abstract on its own, well over eighty characters."


def test_a_short_abstract_in_a_page_is_that_paper_s_and_costs_no_other():
    page = (f"Subscribe\n\nA First Paper\n\n{LONG_ABSTRACT}\n\nWithdrawn: A Study of Things\n\n"
            f"This paper has been withdrawn by the authors.\n\nA Third Paper\n\n{LONG_ABSTRACT}\n").encode()
    items = parsed(page, "seed")
    assert [(p.title, p.abstract[:20]) for p in good(items)] == [
        ("A First Paper", LONG_ABSTRACT[:20]), ("Withdrawn: A Study of Things", "This paper has been "),
        ("A Third Paper", LONG_ABSTRACT[:20])]
    assert errors(items) == []


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs a named pipe")
def test_records_from_a_pipe_are_read_as_they_come(tmp_path):
    path = tmp_path / "pipe"
    os.mkfifo(path)
    first_read = threading.Event()

    def feed():
        with open(path, "w") as pipe:
            pipe.write('{"title": "First", "abstract": "A."}\n')
            pipe.flush()
            first_read.wait(10)  # the rest only once the first record was parsed
            pipe.write('{"title": "Second", "abstract": "B."}\n')

    threading.Thread(target=feed, daemon=True).start()
    with open_input(str(path)) as source:
        assert detect_format(str(path), source.stream) == "jsonl"
        titles = []
        for _line, item in parse(source.stream, "jsonl"):
            titles.append(item.title)
            first_read.set()
    assert titles == ["First", "Second"]
