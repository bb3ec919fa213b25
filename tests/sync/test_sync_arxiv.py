"""`papers sync arxiv`: OAI-PMH harvesting against recorded responses replayed on 127.0.0.1."""

import io

import pytest
from replay import RECORDED, Reply

from app.sync import state as sync_state
from app.sync.arxiv import harvest
from app.sync.http import Polite, SyncError

FIRST = {"verb": "ListRecords", "metadataPrefix": "arXiv", "set": "cs"}
PAGE2 = {"resumptionToken": "7391822|1001"}
PAGE3 = {"resumptionToken": "7391822|2001"}


def chain(replay, first=("arxiv-page1.xml",), second=("arxiv-page2.xml",), third=("arxiv-page3.xml",)):
    replay.on(FIRST, *[r if isinstance(r, Reply) else Reply(r) for r in first])
    replay.on(PAGE2, *[r if isinstance(r, Reply) else Reply(r) for r in second])
    replay.on(PAGE3, *[r if isinstance(r, Reply) else Reply(r) for r in third])


def titles(conn):
    return {r[0]: r[1] for r in conn.execute("SELECT arxiv_id, abstract FROM papers")}


def seed_withdrawn(conn):
    from app.ingest.load import Loader
    from app.ingest.records import record_from_mapping
    Loader(conn, "earlier").load_batch([(1, record_from_mapping(
        {"id": "2511.10009", "title": "Withdrawn", "abstract": "To be withdrawn."}))])


def test_a_harvest_follows_the_resumption_token_chain_to_the_end(conn, replay, client):
    seed_withdrawn(conn)
    chain(replay)
    out = io.StringIO()
    stats, requests = harvest(conn, "cs", "2026-11-26", client=client, out=out)
    assert [r.get("resumptionToken") for r in replay.requests] == [None, "7391822|1001", "7391822|2001"]
    assert replay.requests[0]["from"] == "2026-11-26" and requests == 3
    # read 5 = inserted 2 + updated 1 (a new abstract) + skipped 1 (no title) + deleted 1
    assert (stats.read, stats.inserted, stats.updated, stats.skipped, stats.deleted) == (5, 2, 1, 1, 1)
    assert stats.read == stats.inserted + stats.updated + stats.unchanged + stats.skipped + stats.deleted
    papers = titles(conn)
    assert papers["2511.20001"].endswith("prove it helps (v2).") and "2511.10009" not in papers
    assert "arxiv:cs page 2:" in out.getvalue() and "skipped: missing title" in out.getvalue()
    state = sync_state.load(conn, "arxiv:cs")
    assert (state.harvested_until, state.resumption_token, state.records) == ("2026-11-30", None, 5)


def test_a_page_with_bytes_that_are_not_utf8_is_harvested_whole(conn, replay, client, tmp_path):
    # An XML parser stops at the first such byte: the page, and every run after it, would stop there.
    page = (RECORDED / "arxiv-page1.xml").read_bytes()
    odd = tmp_path / "page1-latin1.xml"
    odd.write_bytes(page.replace(b"Ensembles of reward models", b"Ensembles of r\xe9ward models"))
    chain(replay, first=(str(odd),))
    out = io.StringIO()
    stats, requests = harvest(conn, "cs", client=client, out=out)
    assert (requests, stats.read, stats.inserted, stats.kept) == (3, 5, 2, 1), out.getvalue()
    assert "kept, replaced invalid UTF-8" in out.getvalue()
    assert titles(conn)["2511.20002"].startswith("Ensembles of r\ufffdward models")
    assert sync_state.load(conn, "arxiv:cs").resumption_token is None  # finished, nothing to resume


def test_names_and_classifications_come_through_the_same_loader(conn, replay, client):
    chain(replay)
    harvest(conn, "cs", client=client, out=io.StringIO())
    row = conn.execute("SELECT authors, classifications, categories FROM papers WHERE arxiv_id = '2511.20002'"
                       ).fetchone()
    assert tuple(row) == ("Ada Lovelace", "acm:I.2.6 msc:68T05", "cs.LG")
    assert conn.execute("SELECT authors FROM papers WHERE arxiv_id = '2511.20001'").fetchone()[0] == "Mei Chen, Kurt Gödel"


def test_a_fixed_pause_separates_requests(conn, replay, sleeps):
    # A long pause, so the time spent on a page never covers it on a busy machine; nothing sleeps.
    client = Polite(pause=600.0, retries=2, max_wait=60, sleep=sleeps.append, timeout=5)
    chain(replay)
    harvest(conn, "cs", client=client, out=io.StringIO())
    client.close()
    assert len(sleeps) == 2 and all(500.0 < s <= 600.0 for s in sleeps)


def test_a_retry_after_beyond_reason_stops_the_run_to_resume_later(conn, replay, client, sleeps):
    chain(replay, second=(Reply("arxiv-503.html", 503, (("Retry-After", "86400"),)),))
    with pytest.raises(SyncError, match="asks to wait 86400 s"):
        harvest(conn, "cs", client=client, out=io.StringIO())
    assert 86400.0 not in sleeps
    assert sync_state.load(conn, "arxiv:cs").resumption_token == "7391822|1001"


def test_503_with_retry_after_is_obeyed(conn, replay, client, sleeps):
    chain(replay, second=(Reply("arxiv-503.html", 503, (("Retry-After", "17"),)), Reply("arxiv-page2.xml")))
    stats, requests = harvest(conn, "cs", client=client, out=io.StringIO())
    assert 17.0 in sleeps and requests == 4 and stats.inserted == 2


def test_network_errors_are_retried_with_backoff(conn, replay, client, sleeps):
    chain(replay, second=(Reply(drop=True), Reply(drop=True), Reply("arxiv-page2.xml")))
    stats, requests = harvest(conn, "cs", client=client, out=io.StringIO())
    assert requests == 5 and stats.read == 5
    assert 2.0 in sleeps and 4.0 in sleeps, sleeps  # waits double between retries


def test_an_interrupted_sync_resumes_at_its_token_and_loses_nothing(conn, replay, client):
    seed_withdrawn(conn)
    chain(replay, third=(Reply("busy", 500),))
    with pytest.raises(SyncError, match="HTTP 500"):
        harvest(conn, "cs", client=client, out=io.StringIO())
    state = sync_state.load(conn, "arxiv:cs")
    assert state.resumption_token == "7391822|2001" and state.harvested_until is None
    assert set(titles(conn)) == {"2511.20001", "2511.20002"}  # the committed pages stay
    replay.requests.clear()
    chain(replay)
    stats, _ = harvest(conn, "cs", client=client, out=io.StringIO())
    assert replay.requests == [{"verb": "ListRecords", "resumptionToken": "7391822|2001"}]
    assert stats.updated == 1 and sync_state.load(conn, "arxiv:cs").harvested_until == "2026-11-30"


def test_an_expired_token_restarts_from_the_last_harvested_date(conn, replay, client):
    sync_state.save(conn, sync_state.State("arxiv:cs", harvested_until="2026-11-20", started_from="2026-11-20",
                                           resumption_token="7391822|1001"))
    chain(replay, second=("arxiv-bad-token.xml", "arxiv-page2.xml"))
    out = io.StringIO()
    stats, _ = harvest(conn, "cs", client=client, out=out)
    assert replay.requests[1] == {**FIRST, "from": "2026-11-20"}
    assert "expired" in out.getvalue() and stats.inserted == 2


def test_the_next_run_asks_only_for_what_is_new(conn, replay, client):
    chain(replay)
    harvest(conn, "cs", client=client, out=io.StringIO())
    replay.requests.clear()
    replay.on({**FIRST, "from": "2026-11-30"}, Reply("arxiv-no-records.xml"))
    stats, requests = harvest(conn, "cs", client=client, out=io.StringIO())
    assert replay.requests == [{**FIRST, "from": "2026-11-30"}] and stats.read == 0
    assert sync_state.load(conn, "arxiv:cs").harvested_until == "2026-12-01"


def test_an_error_answer_stops_with_a_message(conn, replay, client):
    replay.on({**FIRST, "set": "nope"}, Reply("<OAI-PMH xmlns='http://www.openarchives.org/OAI/2.0/'><error code='badArgument'>"
                           "Illegal set</error></OAI-PMH>"))
    with pytest.raises(SyncError, match="badArgument: Illegal set"):
        harvest(conn, "nope", client=client, out=io.StringIO())


def test_a_page_that_is_not_oai_pmh_stops_the_run_and_keeps_the_token(conn, replay, client):
    chain(replay, second=(Reply("arxiv-503.html"),))  # the service's own error page, answered with 200
    with pytest.raises(SyncError, match="not an OAI-PMH response") as raised:
        harvest(conn, "cs", client=client, out=io.StringIO())
    assert "(page 2)" in str(raised.value) and "nothing of this page was loaded" in str(raised.value)
    state = sync_state.load(conn, "arxiv:cs")
    assert state.resumption_token == "7391822|1001" and state.harvested_until is None


def test_a_token_refused_with_an_http_error_restarts_the_list(conn, replay, client):
    sync_state.save(conn, sync_state.State("arxiv:cs", harvested_until="2026-11-20", started_from="2026-11-20",
                                           resumption_token="stale|1"))
    replay.on({"resumptionToken": "stale|1"}, Reply("bad token", 400))
    replay.on({**FIRST, "from": "2026-11-20"}, Reply("arxiv-page1.xml"))
    replay.on(PAGE2, Reply("arxiv-page2.xml"))
    replay.on(PAGE3, Reply("arxiv-page3.xml"))
    out = io.StringIO()
    stats, _ = harvest(conn, "cs", client=client, out=out)
    assert "refused the resumption token (HTTP 400)" in out.getvalue() and stats.read == 5


def test_the_same_from_date_again_resumes_its_run(conn, replay, client):
    chain(replay, third=(Reply("busy", 500),))
    with pytest.raises(SyncError):
        harvest(conn, "cs", "2026-11-26", client=client, out=io.StringIO())
    replay.requests.clear()
    chain(replay)
    harvest(conn, "cs", "2026-11-26", client=client, out=io.StringIO())
    assert replay.requests == [{"verb": "ListRecords", "resumptionToken": "7391822|2001"}]


def test_a_cut_off_page_loads_none_of_its_records_and_says_so(conn, replay, client):
    whole = (RECORDED / "arxiv-page2.xml").read_text()
    chain(replay, second=(Reply(whole[: len(whole) * 2 // 3]),))
    with pytest.raises(SyncError, match="not well-formed XML") as raised:
        harvest(conn, "cs", client=client, out=io.StringIO())
    assert "records before were read" not in str(raised.value)
    assert sync_state.load(conn, "arxiv:cs").resumption_token == "7391822|1001"
    assert set(titles(conn)) == {"2511.20001", "2511.20002"}  # page 1's papers only
