"""How far each source has been harvested, kept in the catalogue itself (`sync_state`)."""

from dataclasses import dataclass
from datetime import UTC, datetime

from app.db import transaction


@dataclass
class State:
    source: str
    harvested_until: str | None = None   # last date fully harvested (the next run starts there)
    started_from: str | None = None      # the from date of a run under way
    resumption_token: str | None = None  # where a run under way stands
    records: int = 0


def load(conn, source: str) -> State:
    row = conn.execute("SELECT source, harvested_until, started_from, resumption_token, records"
                       " FROM sync_state WHERE source = ?", (source,)).fetchone()
    return State(*row) if row else State(source)


def save(conn, state: State, begin=None) -> None:
    """Write the position reached; `begin`: how the write transaction begins (a run's waiting lock)."""
    with (begin or (lambda: transaction(conn)))():
        conn.execute(
            "INSERT INTO sync_state (source, harvested_until, started_from, resumption_token, records, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (source) DO UPDATE SET"
            " harvested_until = excluded.harvested_until, started_from = excluded.started_from,"
            " resumption_token = excluded.resumption_token, records = excluded.records,"
            " updated_at = excluded.updated_at",
            (state.source, state.harvested_until, state.started_from, state.resumption_token, state.records,
             datetime.now(UTC).replace(tzinfo=None).isoformat(sep=" ")))
