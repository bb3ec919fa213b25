"""The Atom and BibTeX renderers on hand-made results."""

from datetime import date, datetime
from xml.etree import ElementTree as ET

import bibtexparser
import pytest
from markupsafe import Markup

from app.feeds import atom, bibtex, bibtex_entry, cite_key, tex_escape
from app.search import Hit, TagRef

ATOM = "{http://www.w3.org/2005/Atom}"


def hit(n=1, *, title="A Study of Things", authors=("Ada Lovelace",), published=date(2024, 3, 5),
        arxiv_id="2403.00001", key=None, tags=(), abstract="An abstract.", categories=()) -> Hit:
    return Hit(id=n, key=key or arxiv_id or f"t{n:011x}", arxiv_id=arxiv_id, title=title, abstract=abstract,
               authors=list(authors), published=published, url=None, tags=list(tags),
               snippet=Markup(abstract), title_html=Markup(title), categories=categories)


def test_tex_escape_makes_every_special_character_literal():
    assert tex_escape(r"50% of $x_1$ & {y} #2 ~ ^ \ ") == (
        r"50\% of \$x\_1\$ \& \{y\} \#2 \textasciitilde{} \textasciicircum{} \textbackslash{}")


@pytest.mark.parametrize("text", ["}{", "{{{", "}}}", "\\}", "a}b{c", "\\"])
def test_escaped_values_always_parse(text):
    entry = bibtex_entry(hit(title=text, authors=(text,)), url="https://x.test/papers/1")
    library = bibtexparser.parse_string(entry)
    assert not library.failed_blocks and len(library.entries) == 1


def test_cite_key_is_surname_year_first_word():
    assert cite_key(hit(title="The Mixtral of Experts", authors=("Albert Q. Jiang", "B"))) == "jiang2024mixtral"


def test_cite_key_folds_accents_and_survives_missing_fields():
    assert cite_key(hit(authors=("José Müller",))) == "muller2024study"
    assert cite_key(hit(authors=(), published=None, arxiv_id=None, key="tabc123")).startswith("study")


def test_bulk_bibtex_keys_are_unique():
    library = bibtexparser.parse_string(bibtex([hit(n, arxiv_id=f"2403.0000{n}") for n in range(1, 4)],
                                               base_url="https://x.test"))
    assert [e.key for e in library.entries] == ["lovelace2024study", "lovelace2024studya", "lovelace2024studyb"]


def test_bibtex_entry_fields():
    # The primary category is the paper's first, not the first of its tags (sorted by name).
    tags = [TagRef("cs.AI", "Artificial Intelligence", "category"), TagRef("cs.LG", "Machine Learning", "category")]
    entry = bibtexparser.parse_string(bibtex(
        [hit(tags=tags, categories=("cs.LG", "cs.AI"))], base_url="https://x.test/")).entries[0]
    assert entry["eprint"] == "2403.00001" and entry["primaryClass"] == "cs.LG"
    assert entry["doi"] == "10.48550/arXiv.2403.00001"
    assert entry["url"] == "https://x.test/papers/2403.00001"
    assert entry["month"] == "mar"


def test_atom_is_well_formed_with_hostile_text():
    body = atom([hit(title="<b>&\x01 bold</b>", abstract="]]> \x0b end", authors=("A <script>",))],
                title="Feed & <co>", feed_url="https://x.test/feed.atom", html_url="https://x.test/",
                base_url="https://x.test")
    root = ET.fromstring(body)
    entry = root.find(f"{ATOM}entry")
    assert entry.find(f"{ATOM}title").text == "<b>& bold</b>"
    assert entry.find(f"{ATOM}summary").text == "]]>  end"
    assert entry.find(f"{ATOM}author/{ATOM}name").text == "A <script>"
    assert root.find(f"{ATOM}title").text == "Feed & <co>"


def test_atom_entry_dates_prefer_the_last_change():
    body = atom([hit(1), hit(2, arxiv_id="2403.00002", published=None)], title="t",
                feed_url="https://x.test/f", html_url="https://x.test/", base_url="https://x.test",
                updated={2: datetime(2025, 1, 2, 3, 4, 5)})
    root = ET.fromstring(body)
    stamps = [e.find(f"{ATOM}updated").text for e in root.findall(f"{ATOM}entry")]
    assert stamps == ["2024-03-05T00:00:00Z", "2025-01-02T03:04:05Z"]
    assert root.find(f"{ATOM}updated").text == "2025-01-02T03:04:05Z"


def test_empty_feed_is_still_valid():
    root = ET.fromstring(atom([], title="t", feed_url="https://x.test/f", html_url="https://x.test/",
                              base_url="https://x.test"))
    assert root.find(f"{ATOM}updated") is not None and root.findall(f"{ATOM}entry") == []


def bibtex_names(entry: str) -> list[tuple[str, str]]:
    """(first, last) of each author as BibTeX itself reads the entry's author field."""
    from bibtexparser import middlewares

    library = bibtexparser.parse_string(entry, append_middleware=[middlewares.SeparateCoAuthors(),
                                                                   middlewares.SplitNameParts()])
    return [(" ".join(name.first), " ".join(name.last)) for name in library.entries[0]["author"]]


def test_bibtex_reads_each_author_of_the_table_as_one_name():
    authors = ("Smith, John", "Alice and Bob", "Ada Lovelace", "R&D Team, Inc., East, West", "others")
    entry = bibtex_entry(hit(authors=authors), url="https://x.test/papers/1")
    names = bibtex_names(entry)
    assert len(names) == len(authors)
    assert names[0] == ("John", "Smith") and names[2] == ("Ada", "Lovelace")
    assert names[1] == ("", "{Alice and Bob}") and names[4] == ("", "{others}")
    assert "{R\\&D Team, Inc., East, West}" in entry


def test_every_bibtex_producer_uses_one_author_field():
    authors = ("Smith, John", "Alice AND Bob")
    one = bibtex_entry(hit(authors=authors), url="https://x.test/papers/1")
    many = bibtex([hit(authors=authors), hit(2, arxiv_id="2403.00002", authors=authors)], base_url="https://x.test")
    field = "author = {Smith, John and {Alice AND Bob}}"
    assert field in one and many.count(field) == 2


def test_cite_key_takes_the_surname_of_a_last_first_name():
    assert cite_key(hit(title="Sparse experts", authors=("Smith, John",))) == "smith2024sparse"
