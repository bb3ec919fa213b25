"""Loading into SQLite: idempotency, merges and aliases, updates, authors, categories, counts."""

import io
import json

import pytest

from app.engine import get_engine
from app.ingest import EXIT_OK, EXIT_SKIPPED, EXIT_UNREADABLE, ingest
from app.plan import Words
from app.ingest.records import title_key


def matches(conn, word: str, columns: tuple[str, ...] = ()) -> list[int]:
    """The papers the full-text index finds for one word (in these columns)."""
    return get_engine(conn).match_ids(conn, Words((word,), columns=columns))


def write_jsonl(path, records):
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return str(path)


def paper(n, **fields):
    return {"id": f"2401.{n:05d}", "title": f"Paper number {n} on sparse experts",
            "abstract": f"We study topic {n} with a mixture of experts.", "authors": [f"Author {n}", "Shared Author"],
            "published": "2024-01-15", "categories": ["cs.LG", "cs.CL"], **fields}


def run(conn, *paths, **kwargs):
    return ingest(conn, list(paths), quiet=True, out=io.StringIO(), **kwargs)


def count(conn, sql, *params):
    return conn.execute(sql, params).fetchone()[0]


def test_reingesting_the_same_file_changes_nothing(conn, tmp_path):
    path = write_jsonl(tmp_path / "p.jsonl", [paper(n) for n in range(1, 6)])
    first, _ = run(conn, path)
    before = conn.execute("SELECT key, updated_at, content_hash FROM papers ORDER BY id").fetchall()
    second, status = run(conn, path)
    after = conn.execute("SELECT key, updated_at, content_hash FROM papers ORDER BY id").fetchall()
    assert (first.inserted, second.inserted, second.unchanged, status) == (5, 0, 5, EXIT_OK)
    assert [tuple(r) for r in before] == [tuple(r) for r in after]
    assert count(conn, "SELECT count(*) FROM papers") == 5


def test_a_changed_record_is_updated_and_reindexed(conn, tmp_path):
    run(conn, write_jsonl(tmp_path / "a.jsonl", [paper(1)]))
    stamp = count(conn, "SELECT updated_at FROM papers")
    stats, _ = run(conn, write_jsonl(tmp_path / "b.jsonl", [paper(1, abstract="Now about quantum annealing.")]))
    assert stats.updated == 1
    assert count(conn, "SELECT updated_at FROM papers") > stamp
    assert len(matches(conn, "annealing")) == 1
    assert matches(conn, "mixture", columns=("abstract",)) == []
    assert get_engine(conn).check(conn) == []


def test_version_suffix_does_not_make_a_new_paper(conn, tmp_path):
    run(conn, write_jsonl(tmp_path / "a.jsonl", [paper(1, id="2401.00001v1")]))
    stats, _ = run(conn, write_jsonl(tmp_path / "b.jsonl", [paper(1, id="2401.00001v2")]))
    assert stats.unchanged == 1 and count(conn, "SELECT count(*) FROM papers") == 1


def test_record_with_arxiv_id_merges_into_same_title_without_id(conn, tmp_path):
    bare = {"title": "Sparse Experts at Scale", "abstract": "An abstract."}
    run(conn, write_jsonl(tmp_path / "a.jsonl", [bare]))
    old_key = title_key(bare["title"])
    assert count(conn, "SELECT key FROM papers") == old_key
    stats, _ = run(conn, write_jsonl(tmp_path / "b.jsonl", [{**bare, "title": "Sparse experts at scale.",
                                                               "id": "2402.01234"}]))
    assert stats.updated == 1 and count(conn, "SELECT count(*) FROM papers") == 1
    assert count(conn, "SELECT key FROM papers") == "2402.01234"
    assert count(conn, "SELECT p.key FROM aliases a JOIN papers p ON p.id = a.paper_id WHERE a.key = ?",
                 old_key) == "2402.01234"


def test_record_without_id_finds_the_merged_paper_through_its_alias(conn, tmp_path):
    bare = {"title": "Sparse Experts at Scale", "abstract": "An abstract."}
    run(conn, write_jsonl(tmp_path / "a.jsonl", [bare]))
    run(conn, write_jsonl(tmp_path / "b.jsonl", [{**bare, "id": "2402.01234", "authors": ["A. Author"]}]))
    stats, _ = run(conn, write_jsonl(tmp_path / "c.jsonl", [bare]))
    assert count(conn, "SELECT count(*) FROM papers") == 1
    assert stats.inserted == 0
    # What the bare record does not say (id, authors) is kept.
    assert count(conn, "SELECT authors FROM papers") == "A. Author"
    assert count(conn, "SELECT key FROM papers") == "2402.01234"


@pytest.mark.parametrize("titles", [
    ("深度学习综述", "图神经网络的研究", "强化学习方法"),
    ("Обзор методов обучения", "Нейронные сети для перевода"),
    ("α-Divergence Variational Inference", "β-Divergence Variational Inference"),
])
def test_papers_without_an_id_titled_in_other_scripts_stay_apart(conn, tmp_path, titles):
    records = [{"title": title, "abstract": f"Abstract {n}: {title}"} for n, title in enumerate(titles)]
    stats, _ = run(conn, write_jsonl(tmp_path / "a.jsonl", records))
    assert (stats.inserted, stats.updated) == (len(titles), 0)
    assert sorted(r[0] for r in conn.execute("SELECT title FROM papers")) == sorted(titles)
    assert len({r[0] for r in conn.execute("SELECT key FROM papers")}) == len(titles)
    assert run(conn, write_jsonl(tmp_path / "a.jsonl", records))[0].unchanged == len(titles)


def test_an_arxiv_paper_titled_in_another_script_is_not_merged_into_an_unrelated_one(conn, tmp_path):
    run(conn, write_jsonl(tmp_path / "a.jsonl", [{"title": "深度学习综述", "abstract": "关于深度学习的综述。"}]))
    run(conn, write_jsonl(tmp_path / "b.jsonl", [{"id": "2401.00007", "title": "Обзор методов обучения",
                                                  "abstract": "Мы рассматриваем методы обучения."}]))
    assert count(conn, "SELECT count(*) FROM papers") == 2
    assert count(conn, "SELECT count(*) FROM aliases") == 0


def test_duplicates_within_one_file_are_one_paper(conn, tmp_path):
    stats, _ = run(conn, write_jsonl(tmp_path / "a.jsonl", [paper(1), paper(1, abstract="Second version.")]))
    assert (stats.inserted, stats.updated) == (1, 1)
    assert count(conn, "SELECT abstract FROM papers") == "Second version."
    assert len(matches(conn, "second")) == 1


def test_authors_are_stored_in_order_with_slugs(conn, tmp_path):
    run(conn, write_jsonl(tmp_path / "a.jsonl", [paper(1, authors=["Zoë Ångström", "Bob B", "Zoë Ångström"])]))
    rows = conn.execute("SELECT a.name, a.slug, pa.position FROM paper_authors pa JOIN authors a"
                        " ON a.id = pa.author_id ORDER BY pa.position").fetchall()
    assert [tuple(r) for r in rows] == [("Zoë Ångström", "zoe-angstrom", 0), ("Bob B", "bob-b", 1)]


@pytest.mark.parametrize("said", [{"authors": []}, {"authors": ""}, {}])
def test_a_daily_entry_that_names_no_authors_keeps_the_stored_ones(conn, tmp_path, said):
    # Daily-papers entries often carry "authors": [] for a paper not yet claimed: nothing said of them.
    run(conn, write_jsonl(tmp_path / "p.jsonl", [paper(1)]))
    entry = {"paper": {k: v for k, v in paper(1, upvotes=5).items() if k != "authors"} | said}
    (tmp_path / "daily.json").write_text(json.dumps([entry]), encoding="utf-8")
    run(conn, str(tmp_path / "daily.json"))
    names = conn.execute("SELECT a.name FROM paper_authors pa JOIN authors a ON a.id = pa.author_id"
                         " ORDER BY pa.position").fetchall()
    assert [n for (n,) in names] == ["Author 1", "Shared Author"]
    assert count(conn, "SELECT count(*) FROM papers WHERE key = '2401.00001' AND authors != ''") == 1


def test_shared_authors_are_one_row(conn, tmp_path):
    run(conn, write_jsonl(tmp_path / "a.jsonl", [paper(1), paper(2)]))
    assert count(conn, "SELECT count(*) FROM authors WHERE slug = 'shared-author'") == 1
    assert count(conn, "SELECT count(*) FROM paper_authors pa JOIN authors a ON a.id = pa.author_id"
                       " WHERE a.slug = 'shared-author'") == 2


def test_categories_become_named_category_tags(conn, tmp_path):
    run(conn, write_jsonl(tmp_path / "a.jsonl", [paper(1)]))
    rows = conn.execute("SELECT t.slug, t.name, t.kind FROM paper_tags pt JOIN tags t ON t.id = pt.tag_id"
                        " WHERE t.kind = 'category' ORDER BY t.slug").fetchall()
    assert [tuple(r) for r in rows] == [("cs.CL", "Computation and Language", "category"),
                                        ("cs.LG", "Machine Learning", "category")]


def test_changed_categories_replace_the_old_ones(conn, tmp_path):
    run(conn, write_jsonl(tmp_path / "a.jsonl", [paper(1)]))
    run(conn, write_jsonl(tmp_path / "b.jsonl", [paper(1, categories=["stat.ML"])]))
    slugs = [r[0] for r in conn.execute("SELECT t.slug FROM paper_tags pt JOIN tags t ON t.id = pt.tag_id"
                                        " WHERE t.kind = 'category'")]
    assert slugs == ["stat.ML"]


def test_ingest_tags_what_it_loads(conn, tmp_path):
    run(conn, write_jsonl(tmp_path / "a.jsonl", [paper(1, title="Sparse Mixture-of-Experts Routing")]))
    assert count(conn, "SELECT count(*) FROM paper_tags pt JOIN tags t ON t.id = pt.tag_id"
                       " WHERE t.slug = 'mixture-of-experts'") == 1


def test_bad_records_are_skipped_counted_and_reported(conn, tmp_path):
    path = tmp_path / "mixed.jsonl"
    path.write_bytes(json.dumps(paper(1)).encode() + b"\n{broken\n" + json.dumps(paper(2)).encode() + b"\n")
    out = io.StringIO()
    stats, status = ingest(conn, [str(path)], quiet=True, out=out)
    assert (stats.read, stats.inserted, stats.skipped, status) == (3, 2, 1, EXIT_SKIPPED)
    assert f"{path}:2: skipped: invalid JSON" in out.getvalue()
    assert "read 3, inserted 2, updated 0, unchanged 0, skipped 1" in out.getvalue()


def test_unreadable_file_is_one_clear_line_and_other_files_still_load(conn, tmp_path):
    good = write_jsonl(tmp_path / "a.jsonl", [paper(1)])
    out = io.StringIO()
    stats, status = ingest(conn, [str(tmp_path / "missing.jsonl"), good], quiet=True, out=out)
    assert status == EXIT_UNREADABLE and stats.inserted == 1
    assert out.getvalue().splitlines()[0] == f"error: {tmp_path / 'missing.jsonl'}: no such file"


def test_truncated_gzip_keeps_the_records_before_the_break(conn, tmp_path):
    import gzip

    import zlib

    data = gzip.compress("".join(json.dumps(paper(n)) + "\n" for n in range(1, 3000)).encode())
    cut = data[: len(data) * 2 // 3]  # an interrupted download
    path = tmp_path / "cut.jsonl.gz"
    path.write_bytes(cut)
    whole_lines = zlib.decompressobj(wbits=31).decompress(cut).count(b"\n")
    out = io.StringIO()
    stats, status = ingest(conn, [str(path)], quiet=True, out=out)
    assert status == EXIT_UNREADABLE and "cannot read further" in out.getvalue()
    # Every whole line before the break is loaded: none is lost in a buffer when reading fails.
    assert stats.inserted == whole_lines == count(conn, "SELECT count(*) FROM papers")


def test_progress_bar_only_on_a_terminal(conn, tmp_path):
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    path = write_jsonl(tmp_path / "a.jsonl", [paper(n) for n in range(1, 4)])
    piped, terminal = io.StringIO(), Terminal()
    ingest(conn, [path], out=piped)
    ingest(conn, [path], out=terminal)
    assert "papers/s" not in piped.getvalue()
    assert "papers/s" in terminal.getvalue()
    quiet = Terminal()
    ingest(conn, [path], out=quiet, quiet=True)
    assert "papers/s" not in quiet.getvalue()


@pytest.mark.parametrize("fmt", ["jsonl", "json"])
def test_same_papers_in_json_and_jsonl_are_the_same_papers(conn, tmp_path, fmt):
    records = [paper(n) for n in range(1, 4)]
    jsonl = write_jsonl(tmp_path / "a.jsonl", records)
    array = tmp_path / "a.json"
    array.write_text(json.dumps(records, indent=2))
    run(conn, jsonl if fmt == "jsonl" else str(array))
    stats, _ = run(conn, str(array) if fmt == "jsonl" else jsonl)
    assert stats.unchanged == 3


@pytest.mark.parametrize("batch_size", [1, 1000])
def test_a_record_without_id_merges_with_its_arxiv_record_whatever_the_batches(conn, tmp_path, batch_size):
    bare = {"title": "Sparse Experts at Scale", "abstract": "An abstract about sparse experts at scale."}
    path = write_jsonl(tmp_path / "a.jsonl", [bare, {**bare, "id": "2402.01234"}])
    run(conn, path, batch_size=batch_size)
    assert count(conn, "SELECT count(*) FROM papers") == 1
    assert count(conn, "SELECT key FROM papers") == "2402.01234"


def snapshot(version: int, abstract: str) -> dict:
    """One paper as the arXiv snapshot gives it at its `version`-th version."""
    created = ["Mon, 15 Jan 2024 10:00:00 GMT", "Fri, 15 Mar 2024 10:00:00 GMT"]
    return {"id": "2401.00042", "title": "Sparse experts, revised", "abstract": abstract,
            "versions": [{"version": f"v{n + 1}", "created": created[n]} for n in range(version)],
            "update_date": ["2024-01-15", "2024-03-15"][version - 1]}


@pytest.mark.parametrize("order", [(1, 2), (2, 1)])
def test_the_newest_version_is_kept_whatever_the_order_and_a_rerun_changes_nothing(conn, tmp_path, order):
    texts = {1: "The first version's abstract.", 2: "The second version's abstract."}
    path = write_jsonl(tmp_path / "a.jsonl", [snapshot(v, texts[v]) for v in order])
    run(conn, path)
    assert count(conn, "SELECT abstract FROM papers") == texts[2]
    stamp = count(conn, "SELECT updated_at FROM papers")
    again, _ = run(conn, path)
    assert (again.updated, again.unchanged) == (0, 2)
    assert count(conn, "SELECT updated_at FROM papers") == stamp


def test_an_older_file_after_a_newer_one_leaves_the_newer_text(conn, tmp_path):
    run(conn, write_jsonl(tmp_path / "new.jsonl", [snapshot(2, "The second version's abstract.")]))
    stats, _ = run(conn, write_jsonl(tmp_path / "old.jsonl", [snapshot(1, "The first version's abstract.")]))
    assert (stats.updated, stats.unchanged) == (0, 1)
    assert count(conn, "SELECT abstract FROM papers") == "The second version's abstract."
    # A source that dates no version (the daily feed: upvotes) still updates what it says.
    stats, _ = run(conn, write_jsonl(tmp_path / "daily.jsonl", [
        {"paper": {"id": "2401.00042", "title": "Sparse experts, revised", "summary": "The second version's abstract.",
                   "upvotes": 7}}]))
    assert stats.updated == 1 and count(conn, "SELECT upvotes FROM papers") == 7
