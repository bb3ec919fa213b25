"""The corpus catalogue the corpus-judged tests read: PAPERS_CORPUS_DB (a catalogue built
by `papers ingest`), else one built once from the corpus (../shared/corpus, or
PAPERS_CORPUS) in the bench work folder; None without either."""

import os
import sys
from pathlib import Path

ROOT = Path(__file__).parents[2]
if str(ROOT) not in sys.path:  # bench/ is a folder of the repository, not an installed package
    sys.path.insert(0, str(ROOT))


def corpus_db() -> Path | None:
    """The corpus catalogue, built once from the corpus when none is given (a few minutes)."""
    prebuilt = os.environ.get("PAPERS_CORPUS_DB")
    if prebuilt:
        return Path(prebuilt) if Path(prebuilt).exists() else None
    from bench.common import CORPUS
    from bench.relevance import catalogue
    corpus = Path(os.environ.get("PAPERS_CORPUS") or CORPUS)
    return catalogue() if corpus.exists() else None
