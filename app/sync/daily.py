"""Fetch the daily-papers feed: `papers sync daily [--date D | --since D]`.

One request per day; each day's papers are loaded (upvotes included) and
committed with the day recorded, so the next run starts from the last day
fetched (fetched again: its upvotes still move) up to today.
"""

import io
import json
from datetime import UTC, date, datetime, timedelta
from typing import TextIO

from app.ingest.load import Stats
from app.ingest.lock import DEFAULT_WAIT
from app.ingest.parsers import InputError, parse_json
from app.settings import get_settings
from app.sync import state as sync_state
from app.sync.http import Polite, SyncError
from app.sync.run import Run, polite_client

SOURCE = "daily"


def days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def harvest(conn, *, on: date | None = None, since: date | None = None, out: TextIO | None = None,
            quiet: bool = False, client: Polite | None = None, today: date | None = None,
            wait: float = DEFAULT_WAIT) -> tuple[Stats, int]:
    url = get_settings().daily_papers_url
    own_client = client is None
    client = client or polite_client()
    today = today or datetime.now(UTC).date()
    for asked in (on, since):
        if asked is not None and asked > today:
            # Nothing is listed for it yet, and recording it as harvested would skip every day up to it.
            raise SyncError(f"{asked.isoformat()} is after today ({today.isoformat()}, UTC): no papers listed yet")
    state = sync_state.load(conn, SOURCE)
    if on is not None:
        wanted = [on]
    else:
        start = since or (date.fromisoformat(state.harvested_until) if state.harvested_until else today)
        wanted = days(start, today)
    run = Run(conn, SOURCE, out, quiet, total=len(wanted), unit="days", wait=wait)
    try:
        for day in wanted:
            response = client.get(url, {"date": day.isoformat()})
            run.where = f"daily {day.isoformat()}"
            try:
                json.loads(response.content.decode("utf-8", "replace"))  # a cut-off answer is not a day done: nothing of it is committed
                items = list(parse_json(io.BytesIO(response.content)))
            except ValueError as exc:
                raise SyncError(f"{url} ({day.isoformat()}): not a whole JSON document ({exc}); "
                                "nothing of this day was loaded") from None
            except InputError as exc:
                raise SyncError(f"{url} ({day.isoformat()}): {exc}") from None
            run.loader.load_batch(items)  # committed
            state.records += len(items)
            state.harvested_until = max(day.isoformat(), state.harvested_until or "")
            sync_state.save(conn, state, run.transaction)
            run.advance(1)
        return run.loader.stats, client.requests
    finally:
        run.close()
        if own_client:
            client.close()
