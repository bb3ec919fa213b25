"""What a server worker does as it starts, beside serving."""

import gc

from app import cli, related, search


def test_a_worker_keeps_what_it_built_to_start_out_of_full_collections(monkeypatch):
    built = []
    monkeypatch.setattr(search, "warm", lambda background=True: built.append("search"))
    monkeypatch.setattr(related, "warm", lambda: built.append("related"))
    before = gc.get_freeze_count()
    try:
        cli._warm_search()
        assert built == ["search", "related"]
        assert gc.get_freeze_count() > before
    finally:
        gc.unfreeze()


def test_a_failed_warm_up_is_a_warning_and_the_worker_still_freezes(monkeypatch, capsys):
    def fail(background=True):
        raise RuntimeError("no database yet")
    monkeypatch.setattr(search, "warm", fail)
    gc.unfreeze()
    try:
        cli._warm_search()
        assert "search warm-up failed: no database yet" in capsys.readouterr().err
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
