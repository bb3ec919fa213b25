"""Bulk work runs with rarer garbage collections, and the thresholds come back after it."""

import gc
import threading

from app.allocation import BULK_THRESHOLDS, bulk_work


def test_bulk_work_raises_the_thresholds_and_restores_them_after_the_outermost_step():
    before = gc.get_threshold()
    with bulk_work():
        assert gc.get_threshold() == BULK_THRESHOLDS
        with bulk_work():   # a retag inside a load
            assert gc.get_threshold() == BULK_THRESHOLDS
        assert gc.get_threshold() == BULK_THRESHOLDS
    assert gc.get_threshold() == before
    assert gc.isenabled()   # rarer, never stopped: cycles are still freed


def test_the_thresholds_are_restored_when_the_work_fails():
    before = gc.get_threshold()
    try:
        with bulk_work():
            raise RuntimeError("a failed load")
    except RuntimeError:
        pass
    assert gc.get_threshold() == before


def test_overlapping_bulk_work_in_two_threads_restores_the_thresholds_once_both_end():
    before = gc.get_threshold()
    inside, release = threading.Event(), threading.Event()

    def other():
        with bulk_work():
            inside.set()
            release.wait(5)

    thread = threading.Thread(target=other)
    thread.start()
    inside.wait(5)
    with bulk_work():
        pass
    assert gc.get_threshold() == BULK_THRESHOLDS   # the other thread's work is still running
    release.set()
    thread.join(5)
    assert gc.get_threshold() == before
