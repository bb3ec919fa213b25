"""Finished results are cached per catalogue, a database change makes them fresh again, and
nothing a cache holds can be changed by the code it is shared with."""

import io
import json
from dataclasses import FrozenInstanceError, fields, is_dataclass
from datetime import date
from types import MappingProxyType

import numpy as np
import pytest
from markupsafe import Markup
from search_fixtures import catalogue, fixture_database  # noqa: F401

from app.ingest import ingest
from app.results import Hit, SearchResult, TagRef
from app.search import SearchParams, run


def _load(conn, path, *titles):
    path.write_text("".join(json.dumps({"title": t, "abstract": f"About {t} and sparse routing."}) + "\n"
                            for t in titles))
    ingest(conn, [str(path)], quiet=True, out=io.StringIO())


def test_the_same_view_is_answered_from_the_cache(conn, tmp_path):
    _load(conn, tmp_path / "a.jsonl", "Routing one")
    first = run(SearchParams(q="routing"))
    assert run(SearchParams(q="routing")) is first


def test_new_papers_are_found_after_a_write(conn, tmp_path):
    _load(conn, tmp_path / "a.jsonl", "Routing one")
    assert run(SearchParams(q="routing")).total == 1
    _load(conn, tmp_path / "b.jsonl", "Routing two", "Routing three")
    assert run(SearchParams(q="routing")).total == 3


# --- cached values are shared by every thread and renderer: none can be changed -------------

def _mutable_parts(value, where: str = "value") -> list[str]:
    """Where `value` could be changed in place (empty: deep-immutable)."""
    if value is None or isinstance(value, (bool, int, float, str, bytes, date)):
        return []
    if isinstance(value, (tuple, frozenset)):
        return [p for i, item in enumerate(value) for p in _mutable_parts(item, f"{where}[{i}]")]
    if isinstance(value, MappingProxyType):
        return [p for key, item in value.items()
                for p in _mutable_parts(key, f"{where} key") + _mutable_parts(item, f"{where}[{key!r}]")]
    if is_dataclass(value) and not isinstance(value, type):
        if not value.__dataclass_params__.frozen:
            return [f"{where} ({type(value).__name__}) is not frozen"]
        return [p for f in fields(value) for p in _mutable_parts(getattr(value, f.name), f"{where}.{f.name}")]
    if isinstance(value, np.ndarray):
        return [] if not value.flags.writeable and value.dtype != object else [f"{where} is a writeable array"]
    return [f"{where} is a {type(value).__name__}"]


def test_the_check_finds_what_could_be_changed():
    assert _mutable_parts(SearchParams()) == []
    assert _mutable_parts((1, [2])) == ["value[1] is a list"]
    assert _mutable_parts(MappingProxyType({"a": {}})) == ["value['a'] is a dict"]
    assert _mutable_parts(np.zeros(3)) == ["value is a writeable array"]


def test_a_cached_result_cannot_be_changed_by_a_renderer(catalogue):
    run(SearchParams(q="warm"))  # the first reader opens the database's WAL file: a new catalogue state
    result = run(SearchParams(q="MoE routing"))
    hit, value = result.hits[0], result.facets["category"][0]
    assert hit.authors and hit.tags and result.expansions and result.terms and result.facets_more is not None
    with pytest.raises(AttributeError):
        result.hits.append(hit)
    with pytest.raises(AttributeError):
        hit.authors.append("Someone Else")
    with pytest.raises(AttributeError):
        hit.tags.clear()
    with pytest.raises(TypeError):
        result.facets["topic"] = ()
    with pytest.raises(AttributeError):
        result.facets["category"].pop()
    with pytest.raises(TypeError):
        result.facets_more["topic"] = 99
    with pytest.raises(AttributeError):
        result.terms.append("forged")
    with pytest.raises(FrozenInstanceError):
        hit.title = "Forged"
    with pytest.raises(FrozenInstanceError):
        value.toggle.page = 2
    again = run(SearchParams(q="MoE routing"))
    assert again is result and again.hits[0] == hit and again.facets["category"][0] == value


def test_a_result_built_from_lists_keeps_none_of_them():
    authors, tags, hits, facets = ["A. Author"], [TagRef("cs.LG", "Machine learning", "category")], [], {"year": []}
    hit = Hit(id=1, key="k", arxiv_id=None, title="T", abstract="", authors=authors, published=None, url=None,
              tags=tags, snippet=Markup(""), title_html=Markup("T"))
    hits.append(hit)
    result = SearchResult(params=SearchParams(), total=1, hits=hits, facets=facets, terms=["t"])
    authors.append("B. Author")
    hits.append(hit)
    facets["year"].append("forged")
    facets["topic"] = []
    assert result.hits == (hit,) and hit.authors == ("A. Author",) and dict(result.facets) == {"year": ()}
    assert _mutable_parts(result) == []


def test_every_value_a_catalogue_caches_is_immutable(catalogue):
    from app import papers
    from app.db import reader
    from app.related import related_papers
    from app.search import spelling
    from app.search.catalogue import catalogue as current
    from app.settings import get_settings

    for q in ("MoE routing", "distilation", "id:2401.00001", "experts OR routing", "pipeline -gpipe"):
        run(SearchParams(q=q, tags=("cs.LG",)))
        run(SearchParams(q=q, sort="newest", years=(2024, 2025)))
    assert run(SearchParams(author="ashish-vaswani")).total >= 1
    related_papers(papers.paper_by_key("2401.00001"))
    cat = current(reader())
    memos = {"matches": cat.matches, "predicates": cat.predicates, "results": cat.results,
             "vocabulary": cat.vocabulary, "postings": cat.postings, "leaves": cat.leaves, "scores": cat.scores,
             "spelling": spelling._cache}  # corrections, cached per catalogue state and word
    assert all(memo.values() for name, memo in memos.items() if name != "predicates")
    assert [p for name, memo in memos.items() for p in _mutable_parts(tuple(memo.values()), name)] == []
    assert _mutable_parts((cat.tags, cat.tags_folded, cat.years), "catalogue") == []
