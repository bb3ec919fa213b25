"""Real source formats, read from small samples in the shape each source publishes."""

import io
from datetime import date
from pathlib import Path

import pytest

from app.engine import get_engine
from app.ingest import ingest
from app.ingest.parsers import detect_format, open_input, parse
from app.ingest.records import Deleted, PaperIn
from app.plan import Words

SAMPLES = Path(__file__).parent / "samples"


def records(name: str) -> list:
    with open_input(str(SAMPLES / name)) as source:
        fmt = detect_format(name, source.stream)
        return [item for _line, item in parse(source.stream, fmt)]


def by_id(name: str) -> dict[str, PaperIn]:
    return {r.arxiv_id: r for r in records(name) if isinstance(r, PaperIn)}


@pytest.mark.parametrize("name, fmt", [
    ("arxiv-snapshot.jsonl", "jsonl"), ("daily-papers.json", "json"), ("oai-arxiv.xml", "oai"),
    ("oai-arxivraw.xml", "oai"), ("oai-dc.xml", "oai"), ("arxiv-api.atom", "atom"),
])
def test_each_format_is_detected_by_its_content(name, fmt):
    with open_input(str(SAMPLES / name)) as source:
        assert detect_format("-", source.stream) == fmt


def test_arxiv_snapshot_names_lose_their_latex_accents():
    papers = by_id("arxiv-snapshot.jsonl")
    assert papers["0704.0001"].authors == ("C. Balázs", "E. L. Berger", "P. M. Nadolsky", "C. -P. Yuan")
    assert papers["hep-th/9901001"].authors == ("J. Rañada", "K. Gödel")  # affiliation left out
    assert papers["2310.06825"].authors == ("Jiří Matoušek", "Paul Erdős", "Åsa Ström")


def test_arxiv_snapshot_takes_the_first_version_as_publication_date():
    papers = by_id("arxiv-snapshot.jsonl")
    assert papers["0704.0001"].published == date(2007, 4, 2)
    assert papers["0704.0001"].title == ("Calculation of prompt diphoton production cross sections at "
                                         "Tevatron and LHC energies")
    assert papers["hep-th/9901001"].categories == ("hep-th", "math-ph", "math.MP")


def test_math_in_titles_is_left_as_written():
    assert by_id("arxiv-snapshot.jsonl")["2310.06825"].title == r"Sparse graphs via $\ell_1$ relaxations"


@pytest.mark.parametrize("written, read", [
    (r"Fr\'echet distance", "Fréchet distance"), (r'Schr\"{o}dinger bridges', "Schrödinger bridges"),
    (r'{\"U}ber Do\~nana', "Über Doñana"), (r"Erd\H{o}s and {\v C}ech", "Erdős and Čech"),
    (r"Pl\'{\i}nio", "Plínio"), (r"$\hat{x}$ in \textbf{bold}", r"$\hat{x}$ in \textbf{bold}"),
])
def test_latex_accents_in_titles_and_abstracts_are_letters(written, read):
    from app.ingest.records import record_from_mapping
    paper = record_from_mapping({"title": written, "abstract": f"About {written}."})
    assert (paper.title, paper.abstract) == (read, f"About {read}.")


def test_an_accented_word_written_in_latex_is_found_by_search(conn):
    from app.ingest.load import Loader
    from app.ingest.records import record_from_mapping
    Loader(conn, "test").load_batch([(1, record_from_mapping(
        {"id": "2401.00009", "title": r"Fr\'echet Inception Distance revisited", "abstract": "A metric."}))])
    engine = get_engine(conn)
    assert len(engine.match_ids(conn, Words(("fréchet",)))) == 1
    assert len(engine.match_ids(conn, Words(("frechet",)))) == 1


def test_oai_arxiv_format_with_classifications_and_a_deleted_record():
    items = records("oai-arxiv.xml")
    assert Deleted("2511.04321") in items
    paper = by_id("oai-arxiv.xml")["2511.01234"]
    assert paper.authors == ("Kurt Gödel", "John Smith Jr")
    assert paper.categories == ("cs.LO", "cs.AI", "math.LO")
    assert paper.classifications == ("acm:F.4.1", "acm:I.2.3", "msc:03F40", "msc:68T20")
    assert paper.abstract.endswith("arithmetic & discuss what follows.")
    assert paper.published == date(2025, 11, 3)


def test_oai_arxiv_raw_format():
    paper = by_id("oai-arxivraw.xml")["2511.07777"]
    assert paper.authors == ("François Chollet", "Mike Knoop", "Gregory Kamradt")
    assert paper.published == date(2025, 11, 10)  # version 1
    assert paper.classifications == ("acm:I.2.6", "msc:68T20", "msc:68T05")


def test_oai_dublin_core_subjects_become_codes():
    paper = by_id("oai-dc.xml")["2511.08888"]
    assert paper.authors == ("Grace Hopper", "Alan M. Turing")
    assert paper.categories == ("cs.IR", "cs.CL") and paper.classifications == ("acm:H.3.3",)
    assert paper.abstract.startswith("Agents that search") and "Comment" not in paper.abstract


@pytest.mark.parametrize("subject, code", [
    ("Quantum Physics", "quant-ph"), ("High Energy Physics - Theory", "hep-th"),
    ("Mathematics - Geometric Topology", "math.GT"), ("Condensed Matter - Statistical Mechanics", "cond-mat.stat-mech"),
    ("Astrophysics - Cosmology and Nongalactic Astrophysics", "astro-ph.CO"), ("Statistics - Applications", "stat.AP"),
    ("Mathematical Physics", "math-ph"), ("Mathematics - Mathematical Physics", "math.MP"),
    ("Nonlinear Sciences - Chaotic Dynamics", "nlin.CD"), ("Physics - Optics", "physics.optics"),
])
def test_dublin_core_names_every_arxiv_category(subject, code):
    # Every category of arXiv's taxonomy, named as oai_dc names it, is its code (none dropped).
    xml = SAMPLES.joinpath("oai-dc.xml").read_text().replace("Computer Science - Information Retrieval", subject)
    paper = next(r for _line, r in parse(io.BytesIO(xml.encode()), "oai") if isinstance(r, PaperIn))
    assert paper.categories[0] == code and paper.dropped == ()


def test_arxiv_api_atom_feed():
    papers = by_id("arxiv-api.atom")
    assert papers["2511.09999"].title == "Tokenizers that know morphology"
    assert papers["2511.09999"].authors == ("Noam Chomsky", "Zoë Ångström")
    assert papers["2511.09999"].categories == ("cs.CL",) and papers["2511.09999"].classifications == ("acm:I.2.7",)
    assert papers["hep-th/9901002"].title == "Strings and <b>branes</b>"  # markup is text


def test_daily_papers_keep_their_upvotes():
    papers = by_id("daily-papers.json")
    assert papers["2511.11111"].upvotes == 87 and papers["2511.12222"].upvotes == 12
    assert papers["2511.11111"].authors == ("Li Wei", "Ana Sánchez")
    assert papers["2511.11111"].published == date(2025, 11, 17)


def test_a_deleted_record_removes_the_paper_from_the_catalogue(conn, tmp_path):
    snapshot = tmp_path / "before.jsonl"
    snapshot.write_text('{"id": "2511.04321", "title": "Withdrawn later", "abstract": "Soon gone."}\n')
    ingest(conn, [str(snapshot)], quiet=True, out=io.StringIO())
    stats, status = ingest(conn, [str(SAMPLES / "oai-arxiv.xml")], quiet=True, out=io.StringIO())
    assert (stats.inserted, stats.deleted, status) == (2, 1, 0)
    assert conn.execute("SELECT count(*) FROM papers WHERE arxiv_id = '2511.04321'").fetchone()[0] == 0
    assert get_engine(conn).match_ids(conn, Words(("withdrawn",))) == []
    assert get_engine(conn).check(conn) == []


def test_upvotes_and_classifications_are_stored(conn):
    ingest(conn, [str(SAMPLES / "daily-papers.json"), str(SAMPLES / "oai-arxiv.xml")], quiet=True,
           out=io.StringIO())
    assert conn.execute("SELECT upvotes FROM papers WHERE arxiv_id = '2511.11111'").fetchone()[0] == 87
    tags = conn.execute("SELECT t.slug, t.kind FROM paper_tags pt JOIN tags t ON t.id = pt.tag_id"
                        " JOIN papers p ON p.id = pt.paper_id WHERE p.arxiv_id = '2511.01234'"
                        " ORDER BY t.slug").fetchall()
    assert [tuple(t) for t in tags] == [
        ("acm-F.4.1", "classification"), ("acm-I.2.3", "classification"), ("cs.AI", "category"),
        ("cs.LO", "category"), ("math.LO", "category"), ("msc-03F40", "classification"),
        ("msc-68T20", "classification")]


def test_broken_xml_keeps_the_records_before_the_break(conn, tmp_path):
    text = (SAMPLES / "oai-arxiv.xml").read_text()
    broken = tmp_path / "broken.xml"
    broken.write_text(text[: text.index("<record>", text.index("status=\"deleted\""))] + "<record><hea")
    out = io.StringIO()
    stats, status = ingest(conn, [str(broken)], quiet=True, out=out)
    assert status == 2 and stats.inserted == 1 and "not well-formed XML" in out.getvalue()


def test_bytes_that_are_not_utf8_in_an_oai_response_cost_neither_the_record_nor_the_page(conn, tmp_path):
    # Expat stops a whole document at the first such byte: a harvest page of a thousand records.
    data = (SAMPLES / "oai-arxiv.xml").read_bytes()
    at = data.index(b"<title>") + len(b"<title>")
    odd = tmp_path / "latin1.xml"
    odd.write_bytes(data[:at] + b"Caf\xe9 " + data[at:])
    out = io.StringIO()
    stats, status = ingest(conn, [str(odd)], quiet=True, out=out)
    assert (status, stats.inserted, stats.deleted, stats.kept) == (0, 2, 1, 1), out.getvalue()
    line = data[:at].count(b"\n") + 1
    first = next(n for n, _item in parse(io.BufferedReader(io.BytesIO(data)), "oai"))
    assert f"{odd}:{first}: kept, replaced invalid UTF-8" in out.getvalue() and first <= line
    assert out.getvalue().count("kept, ") == 1
    titles = [row[0] for row in conn.execute("SELECT title FROM papers ORDER BY title")]
    assert any(t.startswith("Caf\ufffd ") for t in titles)


@pytest.mark.parametrize("chunk", [7, 64, 1 << 20])
def test_an_oai_response_read_in_any_chunks_is_the_same(monkeypatch, chunk):
    # Chunks cut characters (Gödel's ö is two bytes) and bytes that are not UTF-8 alike.
    import app.ingest.xmlformats as xmlformats

    data = (SAMPLES / "oai-arxiv.xml").read_bytes()
    at = data.index(b"<title>") + len(b"<title>")
    odd = data[:at] + b"G\xc3\xb6del Caf\xe9 " + data[at:]
    monkeypatch.setattr(xmlformats, "CHUNK", chunk)
    items = list(xmlformats.parse_oai(io.BytesIO(odd)))
    titles = [item.title for _line, item in items if isinstance(item, PaperIn)]
    assert titles[0].startswith("Gödel Caf\ufffd ")
    assert [item.dropped for _line, item in items if isinstance(item, PaperIn)] == [
        ("replaced invalid UTF-8",), ()]


def test_an_oai_response_declared_in_another_encoding_is_read_in_it(conn, tmp_path):
    text = (SAMPLES / "oai-arxiv.xml").read_text(encoding="utf-8")
    declared = text.replace('encoding="UTF-8"', 'encoding="ISO-8859-1"', 1)
    assert declared != text
    at = declared.index("<title>") + len("<title>")
    latin = tmp_path / "latin1.xml"
    latin.write_bytes((declared[:at] + "Caf\u00e9 " + declared[at:]).encode("iso-8859-1", "xmlcharrefreplace"))
    out = io.StringIO()
    stats, status = ingest(conn, [str(latin)], quiet=True, out=out)
    assert (status, stats.inserted, stats.kept) == (0, 2, 0), out.getvalue()
    assert conn.execute("SELECT count(*) FROM papers WHERE title LIKE 'Caf\u00e9 %'").fetchone()[0] == 1


def test_entities_and_doctypes_are_refused(conn, tmp_path):
    bomb = tmp_path / "bomb.xml"
    bomb.write_text('<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">]>'
                    '<OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/"><ListRecords/></OAI-PMH>')
    out = io.StringIO()
    stats, status = ingest(conn, [str(bomb)], fmt="oai", quiet=True, out=out)
    assert status == 2 and stats.read == 0
