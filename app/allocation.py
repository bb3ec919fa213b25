"""Rarer garbage collections during bulk work: a load, a sync, a retag.

Such work allocates millions of small objects (records, rows, author names, ids) that stay
alive until it ends. With the default thresholds the collector walks that growing heap again
and again: about a tenth of the writer's CPU in a first ingest of 400,000 papers. Collections
are made rarer for the duration, not stopped, so reference cycles are still freed.
"""

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

BULK_THRESHOLDS = (100_000, 50, 100)   # the defaults are (700, 10, 10)

_lock = threading.Lock()
_depth = 0
_saved: tuple[int, int, int] | None = None


@contextmanager
def bulk_work() -> Iterator[None]:
    """Raise the collector's thresholds until the outermost bulk step ends (nests, any thread)."""
    global _depth, _saved
    with _lock:
        if _depth == 0:
            _saved = gc.get_threshold()
            gc.set_threshold(*BULK_THRESHOLDS)
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0:
                gc.set_threshold(*_saved)
