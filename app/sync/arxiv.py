"""Harvest a set of arXiv over OAI-PMH: `papers sync arxiv --set cs [--from DATE]`.

A run asks for everything changed since the last date fully harvested, follows
resumption tokens page by page, and commits each page (records and position)
as it goes. Interrupted, the next run resumes at the saved token; if the
service has expired that token, the run restarts from the last date fully
harvested (records already loaded are then recognised as unchanged).
"""

import io
from datetime import UTC, datetime
from typing import TextIO

from app.ingest.load import Stats
from app.ingest.lock import DEFAULT_WAIT
from app.ingest.xmlformats import OaiPage, XmlError, parse_oai
from app.settings import get_settings
from app.sync import state as sync_state
from app.sync.http import Polite, SyncError
from app.sync.run import Run, polite_client

METADATA_PREFIX = "arXiv"
MAX_RESTARTS = 3  # expired tokens in one run before giving up


def harvest(conn, set_spec: str, from_date: str | None = None, *, out: TextIO | None = None,
            quiet: bool = False, client: Polite | None = None, wait: float = DEFAULT_WAIT) -> tuple[Stats, int]:
    """Harvest one set; returns the counts and the number of requests made."""
    url = get_settings().arxiv_oai_url
    own_client = client is None
    client = client or polite_client()
    state = sync_state.load(conn, f"arxiv:{set_spec}")
    if from_date is not None and not (state.resumption_token and state.started_from == from_date):
        # asked for explicitly: a fresh run from there (the same --from again resumes its run)
        state.started_from, state.resumption_token = from_date, None
    elif not state.resumption_token:   # nothing under way: from where the last run ended
        state.started_from = state.harvested_until
    run = Run(conn, f"arxiv:{set_spec}", out, quiet, wait=wait)
    restarts, page_number, first_date = 0, 0, None
    try:
        while True:
            if state.resumption_token:
                params = {"verb": "ListRecords", "resumptionToken": state.resumption_token}
            else:
                params = {"verb": "ListRecords", "metadataPrefix": METADATA_PREFIX, "set": set_spec}
                if state.started_from:
                    params["from"] = state.started_from
            try:
                response = client.get(url, params)
            except SyncError as exc:
                if not (state.resumption_token and exc.status is not None and exc.status != 429):
                    raise
                # A token the server no longer takes, whatever status it says so with (some answer
                # 400 or 500, not badResumptionToken): the list is asked for again from its start.
                restarts += 1
                if restarts > MAX_RESTARTS:
                    raise
                print(f"arxiv:{set_spec}: the server refused the resumption token (HTTP {exc.status}); "
                      f"restarting from {state.started_from or 'the beginning'}", file=run.out)
                state.resumption_token = None
                continue
            page_number += 1
            page = OaiPage()
            run.where = f"arxiv:{set_spec} page {page_number}"
            try:
                items = list(parse_oai(io.BytesIO(response.content), page))
            except XmlError as exc:
                # The page is all or nothing: none of its records is loaded, and its token is kept.
                said = str(exc).replace("; the records before were read", "")
                raise SyncError(f"{url} (page {page_number}): {said}; nothing of this page was loaded") from None
            codes = {code for code, _message in page.errors}
            if "badResumptionToken" in codes:
                restarts += 1
                if restarts > MAX_RESTARTS:
                    raise SyncError(f"{url}: resumption tokens keep expiring; run again later")
                print(f"arxiv:{set_spec}: the resumption token has expired; restarting from "
                      f"{state.started_from or 'the beginning'}", file=run.out)
                state.resumption_token = None
                continue
            if page.errors and codes != {"noRecordsMatch"}:
                raise SyncError(f"{url}: " + "; ".join(f"{c}: {m}" for c, m in page.errors))
            run.loader.load_batch(items)  # committed
            run.advance(len(items), page.complete_size)
            # The next run starts from the day this list was first asked for: a record stamped
            # while the list was being read is fetched then.
            first_date = first_date or (page.response_date or "")[:10] or None
            state.records += len(items)
            state.resumption_token = page.token or None
            if state.resumption_token is None:
                state.harvested_until = first_date or datetime.now(UTC).date().isoformat()
                state.started_from = None
            sync_state.save(conn, state, run.transaction)
            if state.resumption_token is None:
                return run.loader.stats, client.requests
    finally:
        run.close()
        if own_client:
            client.close()
