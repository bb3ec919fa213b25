"""Category fields as real arXiv metadata fills them: no odd code costs a paper."""

import io
import json

import pytest

from app.ingest import ingest
from app.ingest.classify import arxiv_category, sort_codes
from app.ingest.records import record_from_mapping

BASE = {"abstract": "An abstract long enough to be one."}

# Every form met in arXiv metadata and the crawlers built on it: (field value, categories, classifications).
ODD_FORMS = [
    ("I.2.7", (), ("acm:I.2.7",)),
    ("68T50", (), ("msc:68T50",)),
    ("I.2.7; K.4.1; H.3.3", (), ("acm:I.2.7", "acm:K.4.1", "acm:H.3.3")),
    ("47-08, 65F45, 65Y10, 68T07, 68T20", (), ("msc:47-08", "msc:65F45", "msc:65Y10", "msc:68T07", "msc:68T20")),
    ("cs.CL cs.AI I.2.7", ("cs.CL", "cs.AI"), ("acm:I.2.7",)),
    ("cs.LG, stat.ML", ("cs.LG", "stat.ML"), ()),
    ("cs.LG;cs.AI", ("cs.LG", "cs.AI"), ()),
    (["cs.CV", "I.4.8; I.2.10"], ("cs.CV",), ("acm:I.4.8", "acm:I.2.10")),
    ("Computation and Language (cs.CL); Machine Learning (cs.LG)", ("cs.CL", "cs.LG"), ()),
    ("Primary 60J10; Secondary 60J27", (), ("msc:60J10", "msc:60J27")),
    ("68T05 (Primary), 62H30 (Secondary)", (), ("msc:68T05", "msc:62H30")),
    ("MSC2020: 68T07, 68Q32", (), ("msc:68T07", "msc:68Q32")),
    ("68Txx 05Cxx 68-XX", (), ("msc:68Txx", "msc:05Cxx", "msc:68-XX")),
    ("D.2.m; F.2.2", (), ("acm:D.2.m", "acm:F.2.2")),
    ("hep-th math-ph math.MP", ("hep-th", "math-ph", "math.MP"), ()),
    ("cond-mat.stat-mech physics.data-an q-bio.NC", ("cond-mat.stat-mech", "physics.data-an", "q-bio.NC"), ()),
    ("cmp-lg adap-org chao-dyn solv-int", ("cmp-lg", "adap-org", "chao-dyn", "solv-int"), ()),
    ("CS.lg", ("cs.LG",), ()),
    ("astro-ph", ("astro-ph",), ()),
]


@pytest.mark.parametrize("value, categories, classifications", ODD_FORMS)
def test_odd_category_forms_are_sorted_into_categories_and_classifications(value, categories, classifications):
    codes = sort_codes(value)
    assert tuple(codes.categories) == categories
    assert tuple(codes.classifications) == classifications
    assert codes.dropped == []


def test_unknown_tokens_are_dropped_one_by_one_and_named():
    record = record_from_mapping({"title": "T", **BASE, "categories": "cs.LG banana I.2.7"})
    assert record.categories == ("cs.LG",) and record.classifications == ("acm:I.2.7",)
    assert record.dropped == ("dropped category 'banana'",)


def test_a_subject_in_words_is_one_drop():
    assert sort_codes("Physics - Optics").dropped == ["dropped category 'Physics - Optics'"]


@pytest.mark.parametrize("token", ["I.2.7", "68T50", "machine", "cs", "hep", "<script>"])
def test_only_real_archives_make_arxiv_categories(token):
    assert arxiv_category(token) == (token if token == "cs" else None)


def test_every_odd_form_ingests_and_no_paper_is_lost(conn, tmp_path):
    path = tmp_path / "crawl.jsonl"
    lines = [json.dumps({"title": f"Paper {n}", **BASE, "categories": value})
             for n, (value, _c, _k) in enumerate(ODD_FORMS)]
    path.write_text("\n".join(lines) + "\n")
    out = io.StringIO()
    stats, status = ingest(conn, [str(path)], quiet=True, out=out)
    assert (stats.inserted, stats.skipped, stats.kept, status) == (len(ODD_FORMS), 0, 0, 0), out.getvalue()
    kinds = dict(conn.execute("SELECT kind, count(*) FROM paper_tags pt JOIN tags t ON t.id = pt.tag_id"
                              " GROUP BY kind").fetchall())
    assert kinds["classification"] == sum(len(k) for _v, _c, k in ODD_FORMS)
    assert kinds["category"] == sum(len(c) for _v, c, _k in ODD_FORMS)
    stored = conn.execute("SELECT categories, classifications FROM papers WHERE title = 'Paper 3'").fetchone()
    assert tuple(stored) == ("", "msc:47-08 msc:65F45 msc:65Y10 msc:68T07 msc:68T20")


def test_kept_records_are_reported_per_line_and_counted_apart(conn, tmp_path):
    path = tmp_path / "odd.jsonl"
    path.write_text(json.dumps({"title": "Good", **BASE, "categories": "cs.LG"}) + "\n"
                    + json.dumps({"title": "Odd", **BASE, "categories": "cs.LG I.2.7 weird!code",
                                  "published": "someday"}) + "\n"
                    + json.dumps({"title": "", **BASE}) + "\n")
    out = io.StringIO()
    stats, status = ingest(conn, [str(path)], quiet=True, out=out)
    assert f"{path}:2: kept, dropped date 'someday', dropped category 'weird!code'" in out.getvalue()
    assert f"{path}:3: skipped: missing title" in out.getvalue()
    assert "read 3, inserted 2, updated 0, unchanged 0, skipped 1; kept with dropped fields 1" in out.getvalue()
    assert status == 1  # the skip, not the drop, sets the status
