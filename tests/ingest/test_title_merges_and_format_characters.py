"""A record without an id merges into a same-titled arXiv paper only when the abstracts agree;
format characters (Unicode category Cf) never reach a text field, except ZWNJ/ZWJ inside words, and a
field left empty by their removal counts as missing."""

import io
import json
import re
import sys
import unicodedata

import pytest

from app.ingest import ingest
from app.ingest.records import (FORMAT_CHARACTERS, JOINERS, RecordError, abstracts_agree, clean_text,
                                record_from_mapping, title_key)

ARXIV = {"id": "2601.00777", "title": "Attention Is Enough for Sparse Experts",
         "abstract": "We show that attention layers alone route tokens to sparse experts, matching learned "
                     "routers on language modelling at a fraction of the cost.", "authors": ["Ada Lovelace"]}


def run(conn, tmp_path, name, *records):
    path = tmp_path / name
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    out = io.StringIO()
    stats, status = ingest(conn, [str(path)], quiet=True, out=out)
    return stats, out.getvalue(), str(path)


def rows(conn):
    return [tuple(r) for r in conn.execute("SELECT key, arxiv_id, title, abstract FROM papers ORDER BY id")]


# --- item: merges by title ---------------------------------------------------------------

def test_abstracts_agree_when_they_are_the_same_text_give_or_take_edits():
    text = ARXIV["abstract"]
    assert abstracts_agree(text, text.upper().replace(",", ""))                 # case, punctuation
    assert abstracts_agree(text, text + " Code is released.")                   # a sentence added
    assert abstracts_agree(text, text[:90])                                     # a listing's excerpt
    assert abstracts_agree(text, text.replace("alone", "only"))                 # a word changed
    assert not abstracts_agree(text, "A survey of protein folding with diffusion models and what they miss.")
    assert not abstracts_agree(text, "")


def test_an_id_less_record_with_another_abstract_is_its_own_paper_and_the_report_says_so(conn, tmp_path):
    run(conn, tmp_path, "arxiv.jsonl", ARXIV)
    other = {"title": ARXIV["title"] + ".", "abstract": "A different paper that happens to share this title: "
                                                         "a study of attention in mixtures of birds."}
    stats, report, path = run(conn, tmp_path, "listing.jsonl", other)
    assert (stats.inserted, stats.updated, stats.apart) == (1, 0, 1)
    assert f"{path}:1: loaded as its own paper: same title as arXiv 2601.00777, but the abstracts differ" in report
    assert "loaded apart from a same-titled arXiv paper 1" in report
    stored = rows(conn)
    assert stored[0] == ("2601.00777", "2601.00777", ARXIV["title"], ARXIV["abstract"])  # untouched
    assert stored[1][:2] == (title_key(other["title"]), None)
    again, _, _ = run(conn, tmp_path, "listing.jsonl", other)  # idempotent: found by its own key
    assert (again.unchanged, again.inserted) == (1, 0) and len(rows(conn)) == 2


def test_an_id_less_record_with_the_same_abstract_merges_into_the_arxiv_paper(conn, tmp_path):
    run(conn, tmp_path, "arxiv.jsonl", ARXIV)
    same = {"title": ARXIV["title"].lower(), "abstract": ARXIV["abstract"] + " Code is released."}
    stats, report, _ = run(conn, tmp_path, "listing.jsonl", same)
    assert (stats.inserted, stats.updated, stats.apart) == (0, 1, 0), report
    assert [r[:2] for r in rows(conn)] == [("2601.00777", "2601.00777")]


def test_an_alias_left_by_an_earlier_merge_does_not_pull_in_another_paper(conn, tmp_path):
    bare = {"title": ARXIV["title"], "abstract": ARXIV["abstract"]}
    run(conn, tmp_path, "a.jsonl", bare)
    run(conn, tmp_path, "b.jsonl", ARXIV)  # the id-less paper gains the id; its key becomes an alias
    other = {"title": ARXIV["title"], "abstract": "Nothing like the first: a paper on tidal energy storage."}
    stats, _, _ = run(conn, tmp_path, "c.jsonl", other)
    assert stats.apart == 1 and len(rows(conn)) == 2
    assert rows(conn)[0][3] == ARXIV["abstract"]


# --- item: format characters --------------------------------------------------------------

def test_the_format_character_set_is_unicodes_category_cf():
    """FORMAT_CHARACTERS plus the joiners is every Cf character this Python knows, and nothing assigned
    to another category (it also lists the few that later Unicode versions added)."""
    pattern = re.compile(f"[{FORMAT_CHARACTERS}{JOINERS}]")
    for code in range(sys.maxunicode + 1):
        char = chr(code)
        category = unicodedata.category(char)
        if category == "Cf":
            assert pattern.match(char), f"U+{code:04X} is a format character"
        elif pattern.match(char):
            assert category == "Cn", f"U+{code:04X} is {category}, not a format character"


@pytest.mark.parametrize(("raw", "stored"), [
    ("soft\u00adhyphen", "softhyphen"),
    ("word\u2060joiner", "wordjoiner"),
    ("\u061cArabic letter mark", "Arabic letter mark"),
    ("tagged\U000e0001\U000e0074\U000e007f", "tagged"),
    ("\ufeffbom \u200bzero width", "bom zero width"),
    ("\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645", "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645"),  # ZWNJ in a word
    ("\u0915\u094d\u200d\u0937", "\u0915\u094d\u200d\u0937"),  # ZWJ after a virama, inside a word
    ("\u200dleading and trailing\u200c", "leading and trailing"),
    ("\U0001f469\u200d\U0001f4bb", "\U0001f469\U0001f4bb"),  # between symbols: not a word
    ("a \u200d b", "a b"),
])
def test_format_characters_are_stripped_except_joiners_inside_words(raw, stored):
    assert clean_text(raw) == stored


def test_a_field_left_empty_counts_as_missing():
    with pytest.raises(RecordError, match="missing title"):
        record_from_mapping({"title": "\u2060\u00ad\U000e0041", "abstract": "An abstract."})
    record = record_from_mapping({"title": "T", "abstract": "An abstract.", "authors": ["\u2060", "Ada \u2060"]})
    assert record.authors == ("Ada",)
    only_invisible = record_from_mapping({"title": "T", "abstract": "An abstract.", "authors": ["\u2060"]})
    assert only_invisible.authors is None  # no authors given: what the catalogue knows is kept


def test_an_author_made_only_of_format_characters_keeps_the_stored_authors(conn, tmp_path):
    record = {"id": "2601.00888", "title": "A title", "abstract": "An abstract.", "authors": ["Ada Lovelace"]}
    run(conn, tmp_path, "a.jsonl", record)
    run(conn, tmp_path, "b.jsonl", {**record, "authors": ["\u2060"]})
    names = [r[0] for r in conn.execute("SELECT a.name FROM paper_authors pa JOIN authors a ON a.id = pa.author_id")]
    assert names == ["Ada Lovelace"]
    assert conn.execute("SELECT count(*) FROM authors WHERE name = '' OR name = '\u2060'").fetchone()[0] == 0
