"""Worker processes that end with their parent.

A killed writer (`kill -9`, the machine's OOM killer) cannot shut its workers down, and a
worker blocked on a queue the parent shared with it would wait forever: every worker holds
the queue's writing end too, so it never reads an end of file. Each worker watches instead.
"""

import os
import threading
import time


def end_with_parent(parent: int) -> None:
    """In a worker: leave at once when the process `parent` is gone (checked every second)."""
    threading.Thread(target=_watch, args=(parent,), daemon=True, name="end-with-parent").start()


def _watch(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(1)
    os._exit(1)  # not SystemExit: threads blocked on the dead parent's pipes would hold it
