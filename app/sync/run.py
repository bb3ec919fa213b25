"""What both harvesters share: the loader set up as `papers ingest` sets it, messages, progress."""

import sys
from typing import TextIO

from tqdm import tqdm

from app import tagging
from app.ingest import MAX_ERRORS_SHOWN
from app.ingest.load import Loader
from app.ingest.lock import DEFAULT_WAIT, WriteLock
from app.ingest.records import PaperIn, RecordError
from app.settings import get_settings
from app.sync.http import Polite


def polite_client(sleep=None) -> Polite:
    settings = get_settings()
    extra = {"sleep": sleep} if sleep else {}
    return Polite(pause=settings.sync_pause, retries=settings.sync_retries, max_wait=settings.sync_max_wait,
                  **extra)


class Run:
    """One sync run: a loader that reports per page, and a progress bar on a terminal."""

    def __init__(self, conn, source: str, out: TextIO | None, quiet: bool, total: int | None = None,
                 unit: str = "records", wait: float = DEFAULT_WAIT):
        self.out = out or sys.stderr
        self.where = source
        self.shown = 0
        # Another writer (an ingest, the other sync of a cron line) is waited for as `papers ingest` does.
        lock = WriteLock(conn, wait, say=lambda text: print(f"{source}: {text}", file=self.out, flush=True))
        self.transaction = lock.transaction
        with lock.transaction():
            tagging.sync_topics(conn)
        self.loader = Loader(conn, source, on_error=self._skipped, on_drop=self._kept, begin=lock.transaction)
        self.bar = (tqdm(total=total, file=self.out, unit=unit, dynamic_ncols=True)
                    if not quiet and self.out.isatty() else None)

    def _say(self, text: str) -> None:
        self.shown += 1
        if self.shown <= MAX_ERRORS_SHOWN:
            self.bar.write(text, file=self.out) if self.bar else print(text, file=self.out)

    def _skipped(self, line: int, error: RecordError) -> None:
        self._say(f"{self.where}:{line}: skipped: {error}")

    def _kept(self, line: int, record: PaperIn) -> None:
        self._say(f"{self.where}:{line}: kept, {', '.join(record.dropped)}")

    def advance(self, count: int, total: int | None = None) -> None:
        if self.bar is not None:
            if total and self.bar.total != total:
                self.bar.total = total
            self.bar.update(count)
            self.bar.set_postfix_str(f"{self.loader.stats.inserted:,} new, {self.loader.stats.updated:,} updated",
                                     refresh=False)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
