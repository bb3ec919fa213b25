"""Worker processes end when the process that started them is killed: a `kill -9` of an
ingest leaves no judging or parsing process behind, waiting forever on a dead queue."""

import os
import signal
import subprocess
import sys
import time

import pytest

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="no SIGKILL on this platform")

# Starts the judges of every topic rule, prints their process ids, then waits to be killed.
STARTER = """
import sys, time
from app import tagging, topic_evidence
rules = tuple(topic.evidence for topic in tagging.load_topics() if topic.evidence)
judges = tagging.Judges(rules)
for future in [judges.pool.submit(topic_evidence.warm) for _ in range(tagging.WORKERS)]:
    future.result(timeout=60)
print(" ".join(str(pid) for pid in judges.pool._processes), flush=True)
time.sleep(600)
"""


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie (ended, not yet reaped by its new parent) is gone for this purpose.
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return True


def test_judges_end_when_the_process_that_started_them_is_killed():
    starter = subprocess.Popen([sys.executable, "-c", STARTER], stdout=subprocess.PIPE, text=True)
    try:
        judges = [int(pid) for pid in starter.stdout.readline().split()]
        assert judges and all(alive(pid) for pid in judges)
    finally:
        starter.send_signal(signal.SIGKILL)
        starter.wait()
        starter.stdout.close()
    deadline = time.monotonic() + 15
    while any(alive(pid) for pid in judges) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not [pid for pid in judges if alive(pid)], "judging processes outlived their killed parent"
