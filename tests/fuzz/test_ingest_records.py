"""Property-based fuzzing of the ingest: hostile records (arbitrary nested types, numbers past any
limit, nesting thousands deep, odd dates, bytes in other encodings) mixed into a file of good records.

For every file: the ingest ends normally (exit status 0 or 1, never an exception); every good record
is loaded; every hostile record is either loaded or reported with its line; the counts add up.
Seeded (derandomized) and bounded; `--run-slow` runs more examples.
"""

import io
import itertools
import json
import os
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.ingest import EXIT_OK, EXIT_SKIPPED, ingest

FUZZ_EXAMPLES = 30
FUZZ_EXAMPLES_LONG = int(os.environ.get("FUZZ_EXAMPLES_LONG", "300"))
FIELDS = ("id", "title", "abstract", "summary", "authors", "authors_parsed", "published", "date", "versions",
          "update_date", "categories", "acm_class", "msc-class", "url", "link", "upvotes", "paper", "extra")
_serial = itertools.count(1)

# --- values ------------------------------------------------------------------------------

json_scalars = (st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
                | st.text(max_size=40))
json_values = st.recursive(json_scalars, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=12)
odd_dates = st.one_of(
    st.integers(min_value=-10**30, max_value=10**30),
    st.builds("Mon, 1 Jan {} 00:00:00 +0000".format, st.integers(min_value=0, max_value=10**25)
              | st.sampled_from([10**9, 99999999999999999999, 10**19])),
    st.builds("{}-{:02d}-{:02d}".format, st.integers(0, 10**12), st.integers(0, 99), st.integers(0, 99)),
    st.sampled_from(["0000-00-00", "9999-12-31T99:99:99Z", "2026-02-30", "last Tuesday", "", "2026-13",
                     "Tue, 31 Feb 2026 25:61:61 +9999", "1e400", "\u0662\u0660\u0662\u0666"]),
    st.text(max_size=30))
odd_text = st.text(st.characters(codec="utf-8", exclude_categories=()), max_size=60) | st.text(
    st.sampled_from("a \u00ad\u061c\u2060\u200c\u200d\u202e\ufeff\U000e0041\x00\x1f\ud800\udfff"), max_size=20)


@st.composite
def raw_json(draw, field: str = "") -> str:
    """JSON text of a value, possibly one Python will not hold (a huge integer, deep nesting)."""
    kinds = ["value", "date", "text", "huge", "deep", "deep-object"]
    if field in ("published", "date", "update_date", "versions"):
        kinds += ["date"] * 6  # mostly dates where dates are read
    kind = draw(st.sampled_from(kinds))
    if kind == "date" and field == "versions":
        return json.dumps([{"created": draw(odd_dates)}])
    if kind == "huge":
        return ("-" if draw(st.booleans()) else "") + "9" * draw(st.integers(19, 6_000))
    if kind in ("deep", "deep-object"):
        depth = draw(st.sampled_from([600, 1_100, 5_000, 100_000]))
        return ("[" * depth + "]" * depth) if kind == "deep" else ('{"a":' * depth + "1" + "}" * depth)
    value = draw({"value": json_values, "date": odd_dates, "text": odd_text}[kind])
    return json.dumps(value)


@st.composite
def hostile_line(draw, serial: int, in_json_document: bool) -> tuple[bytes, dict]:
    """One hostile line, and what identifies the record if it loads (its id and title, when not attacked)."""
    kinds = ["field", "field", "field", "value"] + ([] if in_json_document else ["bytes"])
    kind = draw(st.sampled_from(kinds))
    ident = {"id": f"2702.{serial:05d}", "title": f"Hostile paper {serial} zq"}
    if kind == "value":  # not an object at all
        return draw(raw_json()).encode(), {}
    if kind == "bytes":  # a record in another encoding, or with bytes that are not UTF-8
        text = json.dumps({**ident, "abstract": draw(odd_text) + " an abstract"}, ensure_ascii=False)
        codec = draw(st.sampled_from(["latin-1", "utf-16", "cp1252", "junk"]))
        data = text.encode("utf-8", "surrogatepass") + draw(st.binary(min_size=1, max_size=8)) \
            if codec == "junk" else text.encode(codec, "replace")
        return data.replace(b"\n", b"\xff"), ident  # still one line
    fields = draw(st.lists(st.sampled_from(FIELDS), min_size=1, max_size=3, unique=True))
    parts = {**ident, "abstract": "An abstract long enough to be one, for a hostile record."}
    for field in fields:
        parts.pop(field, None)
        ident.pop(field, None)
    text = [f"{json.dumps(k)}: {json.dumps(v)}" for k, v in parts.items()]
    text += [f"{json.dumps(field)}: {draw(raw_json(field))}" for field in fields]
    return ("{" + ", ".join(text) + "}").encode(), ident


def good_record(serial: int) -> dict:
    return {"id": f"2701.{serial:05d}", "title": f"Good paper {serial} zq",
            "abstract": f"A good abstract, number {serial}, about sparse experts and routing.",
            "authors": [f"Author {serial}"], "published": "2026-01-02", "categories": ["cs.LG"]}


@st.composite
def files(draw, fmt: str) -> list[tuple[bytes, dict, bool]]:
    """Lines of a file, (text, identity, good?): good records with hostile ones between them."""
    lines = []
    for _ in range(draw(st.integers(1, 6))):
        if draw(st.booleans()):
            raw, ident = draw(hostile_line(next(_serial), fmt == "json"))
            lines.append((raw, ident, False))
        serial = next(_serial)
        lines.append((json.dumps(good_record(serial)).encode(), good_record(serial), True))
    return lines


def check_ingest(conn, folder, fmt: str, lines: list[tuple[bytes, dict, bool]]) -> None:
    path = folder / f"mixed-{next(_serial)}.{fmt}"
    if fmt == "jsonl":
        path.write_bytes(b"".join(raw + b"\n" for raw, _, _ in lines))
        numbers = range(1, len(lines) + 1)
    else:  # one element a line, after the "[" line
        path.write_bytes(b"[\n" + b",\n".join(raw for raw, _, _ in lines) + b"\n]\n")
        numbers = range(2, len(lines) + 2)
    out = io.StringIO()
    stats, status = ingest(conn, [str(path)], fmt=fmt, quiet=True, out=out)
    report = out.getvalue()
    assert status in (EXIT_OK, EXIT_SKIPPED), report
    assert stats.read == len(lines), report
    said = dict(re.findall(rf"^{re.escape(str(path))}:(\d+): (skipped|kept)", report, re.M))
    assert list(said.values()).count("skipped") == stats.skipped, report

    def loaded(ident: dict) -> bool:
        if "id" in ident:
            return conn.execute("SELECT 1 FROM papers WHERE key = ?", (ident["id"],)).fetchone() is not None
        if "title" in ident:
            return conn.execute("SELECT 1 FROM papers WHERE title = ?", (ident["title"],)).fetchone() is not None
        return False

    for number, (raw, ident, good) in zip(numbers, lines):
        if good:
            row = conn.execute("SELECT title FROM papers WHERE key = ?", (ident["id"],)).fetchone()
            assert row is not None and row[0] == ident["title"], (number, report)
            assert said.get(str(number)) is None, (number, report)
        else:
            assert str(number) in said or loaded(ident), (number, raw[:300], report)


def fuzz(examples: int):
    return settings(max_examples=examples, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                                           HealthCheck.data_too_large, HealthCheck.large_base_example])


@pytest.mark.parametrize("fmt", ["jsonl", "json"])
def test_good_records_load_and_hostile_ones_are_reported_with_their_line(conn, tmp_path, fmt):
    @fuzz(FUZZ_EXAMPLES)
    @given(lines=files(fmt))
    def run(lines):
        check_ingest(conn, tmp_path, fmt, lines)

    run()


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["jsonl", "json"])
def test_good_records_load_and_hostile_ones_are_reported_long(conn, tmp_path, fmt):
    @fuzz(FUZZ_EXAMPLES_LONG)
    @given(lines=files(fmt))
    def run(lines):
        check_ingest(conn, tmp_path, fmt, lines)

    run()
