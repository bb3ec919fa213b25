"""A catalogue with the metadata real sources carry, made from the seed papers' own texts.

The seed listing has titles and abstracts only. Browsing needs what arXiv records
have: authors (one paper with a crowd of them, one name shared by two unrelated
people), arXiv ids, categories and dates -- dates relative to today, so "past
week" and "new" listings have something to show whatever day the tests run.
"""

import json
import random
from datetime import date, timedelta
from pathlib import Path

from app.ingest.parsers import parse_seed
from app.ingest.records import PaperIn
from app.settings import SEED_FILE

CROWD = 14                 # authors of the first paper
SHARED_NAME = "Wei Zhang"  # two people: one in language, one in audio, with no co-author in common
GROUP_A = ["Ana Ruiz", "Omar Haddad"]
# The day every catalogue of a test session is dated from, fixed once: a run that crosses
# midnight must compare its pages with the dates the catalogue was built with.
TODAY = date.today()
GROUP_B = ["Lena Fischer", "Tom Baker"]
NAMES = [f"{first} {last}" for first, last in zip(
    ["Ada", "Alan", "Grace", "Barbara", "Edsger", "Donald", "Frances", "John", "Margaret", "Niklaus",
     "Radia", "Ken", "Shafi", "Leslie", "Tim", "Sophie", "Yann", "Fei", "Andrew", "Daphne"],
    ["Lovelace", "Turing", "Hopper", "Liskov", "Dijkstra", "Knuth", "Allen", "Backus", "Hamilton", "Wirth",
     "Perlman", "Thompson", "Goldwasser", "Lamport", "Berners", "Wilson", "Tanaka", "Li", "Ng", "Koller"])]
CATEGORIES = ["cs.LG", "cs.CL", "cs.CV", "cs.AI", "stat.ML", "cs.IR"]
# Upvotes as the daily-papers feed gives them, for `build(..., upvotes=True)`: paper index -> upvotes.
# Papers 1 and 5 tie (1 is newer); the others have none, as papers from arXiv. With upvotes, papers
# 0-3 are all published today, so the latest "new" listing has four papers to order.
UPVOTES = {13: 300, 1: 120, 5: 120, 8: 45, 2: 7}
LISTED_TODAY = (0, 1, 2, 3)


def seed_texts() -> list[PaperIn]:
    with open(SEED_FILE, "rb") as stream:
        return [record for _, record in parse_seed(stream) if isinstance(record, PaperIn)]


def records(today: date, upvotes: bool = False) -> list[dict]:
    """One record per seed paper: paper i was published i * 4 days before today (UPVOTES if asked)."""
    rng = random.Random(14)
    out = []
    for i, paper in enumerate(seed_texts()):
        if i == 0:
            authors = NAMES[:CROWD]
        else:
            authors = rng.sample(NAMES, rng.randint(1, 4))
        categories = rng.sample(CATEGORIES, rng.randint(1, 2))
        if i in (3, 9, 15, 21):
            authors = [SHARED_NAME, *GROUP_A]
            categories = ["cs.CL"]
        elif i in (6, 12, 18):
            authors = [*GROUP_B, SHARED_NAME]
            categories = ["eess.AS"]
        published = today - timedelta(days=0 if upvotes and i in LISTED_TODAY else i * 4)
        out.append({"id": f"{published:%y%m}.{10000 + i:05d}", "title": paper.title, "abstract": paper.abstract,
                    "authors": authors, "published": published.isoformat(), "categories": categories})
        if upvotes and i in UPVOTES:
            out[-1]["upvotes"] = UPVOTES[i]
    return out


def build(directory: Path, today: date | None = None, upvotes: bool = False,
          database: str | None = None) -> Path | str:
    """A migrated database in `directory` (or the empty PostgreSQL `database`, a URL) holding
    the records; returns its path (or that URL)."""
    from app import migrate
    from app.db import connect
    from app.ingest import ingest

    source = directory / "rich.jsonl"
    with source.open("w", encoding="utf-8") as out:
        for record in records(today or TODAY, upvotes):
            out.write(json.dumps(record) + "\n")
    path = database or directory / "papers.db"
    migrate.upgrade(path if database else f"sqlite:///{path}")
    connection = connect(path)
    try:
        _, status = ingest(connection, [str(source)], fmt="jsonl", source="rich", quiet=True)
    finally:
        connection.close()
    assert status == 0
    return path
