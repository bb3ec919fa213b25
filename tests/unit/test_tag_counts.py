"""Facet counts come from one vectorised count over every tag: it must equal counting
each tag's set against the results one by one, for sparse and dense result sets alike."""

import random
from array import array
from types import MappingProxyType

import pytest

from app.search.bitsets import from_ids
from app.search.catalogue import Catalogue, TagSet

SIZE = 5_000


def catalogue(tags: dict[str, set[int]]) -> Catalogue:
    sets = {slug: TagSet(i, slug, slug, "topic", "", "", from_ids(ids, SIZE), len(ids))
            for i, (slug, ids) in enumerate(tags.items())}
    empty = array("i")
    return Catalogue(signature=(), size=SIZE, universe=(1 << SIZE) - 1, tags=MappingProxyType(sets),
                     tags_folded=MappingProxyType({s.lower(): s for s in sets}), years=MappingProxyType({}),
                     with_arxiv_id=0, newest=empty, oldest=empty, date_rank=empty, days=empty, dated=0,
                     by_title=empty, trending=empty, upvoted=0)


@pytest.mark.parametrize("members", [0, 1, 40, 900, 4_999])
def test_tag_counts_equal_one_count_per_tag(members):
    rng = random.Random(members)
    tags = {f"t{i}": set(rng.sample(range(SIZE), rng.randint(0, SIZE))) for i in range(37)}
    tags["none"] = set()
    tags["last"] = {SIZE - 1}
    cat = catalogue(tags)
    results = from_ids(rng.sample(range(SIZE), members), SIZE)
    assert cat.tag_counts(results) == {slug: (results & t.bits).bit_count() for slug, t in cat.tags.items()}


def test_papers_newer_than_the_catalogue_carry_no_tag_it_knows():
    cat = catalogue({"a": {1, 2, 3}})
    assert cat.tag_counts(from_ids([2, SIZE + 70], SIZE)) == {"a": 1}
    assert cat.tag_counts(0) == {"a": 0}
