"""One run over every source shape and its oddities: every record is accounted for."""

import io
import json
from pathlib import Path

from app.ingest import ingest

SAMPLES = Path(__file__).parent / "samples"
BASE = {"abstract": "An abstract that is long enough to be one."}

# One JSON Lines file mixing the shapes sources publish, each with what goes wrong in it.
MIXED = [
    # the arXiv snapshot: LaTeX names, RFC 2822 version dates, an MSC code among the categories
    {"id": "0704.0002", "submitter": "Louis Theran", "authors": "Ileana Streinu and Louis Theran",
     "title": "Sparsity-certifying Graph Decompositions", "categories": "math.CO cs.CG 05C85",
     "versions": [{"version": "v1", "created": "Sat, 31 Mar 2007 02:26:18 GMT"}],
     "update_date": "2008-12-13", "authors_parsed": [["Streinu", "Ileana", ""], ["Theran", "Louis", ""]],
     "abstract": "We describe a new algorithm, the $(k,\\ell)$-pebble game with colors."},
    # a crawler's daily file: ACM codes as categories, a `link`, no authors, a datetime
    {"title": "Crawled with ACM codes", **BASE, "categories": "I.2.7; K.4.1; H.3.3",
     "published": "2025-06-01T12:00:00Z", "link": "https://arxiv.org/abs/2506.00001"},
    # MSC list with commas, and an unreadable date: kept, date dropped
    {"title": "Crawled with MSC codes", **BASE, "categories": "47-08, 65F45, 65Y10, 68T07, 68T20",
     "published": "last Tuesday"},
    # a daily-papers entry with text upvotes: kept, upvotes dropped
    {"paper": {"id": "2511.13334", "title": "Daily with odd upvotes", "summary": "Summary of a daily paper.",
               "authors": [{"name": "R. Roe"}], "publishedAt": "2025-11-18T09:30:00.000Z", "upvotes": "many"}},
    # an API-like record with a list of links and a javascript: URL: kept, url dropped
    {"id": "http://arxiv.org/abs/2511.20077v1", "title": "Linked oddly", **BASE,
     "url": "javascript:alert(1)", "authors": ["A. Author"]},
    # the same paper again with a new abstract: updated
    {"id": "0704.0002", "title": "Sparsity-certifying Graph Decompositions", "abstract": "A revised abstract.",
     "categories": "math.CO cs.CG"},
    # no title: skipped
    {"id": "2511.20088", **BASE},
    # no abstract: skipped
    {"title": "Only a title"},
]


def test_every_record_of_every_format_is_counted_once(conn, tmp_path):
    mixed = tmp_path / "mixed.jsonl"
    mixed.write_text("".join(json.dumps(r) + "\n" for r in MIXED) + "not json at all\n")
    files = [str(mixed)] + [str(SAMPLES / n) for n in ("arxiv-snapshot.jsonl", "oai-arxiv.xml",
                                                       "oai-arxivraw.xml", "oai-dc.xml", "arxiv-api.atom",
                                                       "daily-papers.json")]
    out = io.StringIO()
    stats, status = ingest(conn, files, quiet=True, out=out)
    report = out.getvalue()
    # mixed: 9 read, 5 inserted, 1 updated, 3 skipped (no title, no abstract, not JSON); samples: 12 read,
    # 11 inserted (snapshot 3, OAI arXiv 2, arXivRaw 1, oai_dc 1, Atom 2, daily 2) and 1 deleted.
    assert stats.read == 9 + 12
    assert stats.read == stats.inserted + stats.updated + stats.unchanged + stats.skipped + stats.deleted
    assert (stats.inserted, stats.updated, stats.skipped, stats.deleted) == (5 + 11, 1, 3, 1), report
    assert stats.kept == 3 and report.count(": kept, ") == 3
    assert f"{mixed}:3: kept, dropped date 'last Tuesday'" in report
    assert f"{mixed}:4: kept, dropped upvotes 'many'" in report
    assert f"{mixed}:5: kept, dropped url" in report
    assert conn.execute("SELECT count(*) FROM papers").fetchone()[0] == stats.inserted
    assert status == 1


def test_reingesting_the_same_files_changes_nothing(conn):
    files = [str(p) for p in sorted(SAMPLES.iterdir())]
    ingest(conn, files, quiet=True, out=io.StringIO())
    stats, _ = ingest(conn, files, quiet=True, out=io.StringIO())
    assert stats.inserted == stats.updated == 0
    assert stats.unchanged + stats.deleted == stats.read
