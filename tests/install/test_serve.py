"""`papers serve` and `make serve`: where to listen, how many workers, and a busy port said in one line."""

import os
import shutil
import socket
import subprocess
import sys
import time

import pytest

from app import cli
from app.settings import PROJECT_ROOT

PAPERS = [sys.executable, "-m", "app.cli"]


@pytest.fixture
def busy_port():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        yield taken.getsockname()[1]


def serve(*args, env_extra=None, cwd=PROJECT_ROOT, timeout=60) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("HOST", "PORT")}
    return subprocess.run([*PAPERS, "serve", *args], capture_output=True, text=True, timeout=timeout, cwd=cwd,
                          env={**env, **(env_extra or {})})


def test_a_busy_port_ends_with_one_line_saying_how_to_pick_another(busy_port, tmp_path):
    result = serve("--port", str(busy_port), env_extra={"DATA_DIR": str(tmp_path / "data")})
    assert result.returncode == cli.EXIT_ADDRESS
    assert result.stderr.splitlines() == [
        f"error: port {busy_port} on 127.0.0.1 is already in use: pick another with --port N "
        "(or PORT=N; `make serve PORT=N`)"]
    assert not (tmp_path / "data").exists(), "said before migrating or seeding anything"


def test_host_and_port_come_from_the_environment(busy_port, tmp_path):
    result = serve(env_extra={"PORT": str(busy_port), "HOST": "127.0.0.1", "DATA_DIR": str(tmp_path)})
    assert result.returncode == cli.EXIT_ADDRESS and f"port {busy_port} on 127.0.0.1" in result.stderr


def test_an_address_that_is_not_this_machines_is_said_plainly(tmp_path):
    result = serve("--host", "192.0.2.1", "--port", "8000", env_extra={"DATA_DIR": str(tmp_path)})
    assert result.returncode == cli.EXIT_ADDRESS
    assert result.stderr.startswith("error: cannot listen on 192.0.2.1:8000") and "--host" in result.stderr


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_serve_passes_port_and_reports_a_busy_one(busy_port, tmp_path):
    if not (PROJECT_ROOT / ".venv" / "bin" / "papers").exists():
        pytest.skip("make serve needs the project's .venv (make install)")
    env = {k: v for k, v in os.environ.items() if k not in ("HOST", "PORT")}
    result = subprocess.run(["make", "--no-print-directory", "-o", ".venv/.runtime", "serve", f"PORT={busy_port}"],
                            capture_output=True, text=True, timeout=120, cwd=PROJECT_ROOT,
                            env={**env, "DATA_DIR": str(tmp_path)})
    assert result.returncode != 0
    assert f"error: port {busy_port} on 127.0.0.1 is already in use: pick another with --port N" in result.stderr


def test_workers_default_to_the_cores_capped(monkeypatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(64)), raising=False)
    assert cli.default_workers() == cli.MAX_DEFAULT_WORKERS
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0}, raising=False)
    assert cli.default_workers() == 1


def test_two_workers_each_answer_searches_on_the_seed(tmp_path):
    """Two processes behind one port: both build their catalogue and answer; none errs."""
    import urllib.request

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    log = open(tmp_path / "server.log", "wb")
    server = subprocess.Popen([*PAPERS, "serve", "--port", str(port), "--workers", "2", "--log-level", "info"],
                              cwd=PROJECT_ROOT, stdout=log, stderr=subprocess.STDOUT,
                              env={**os.environ, "DATA_DIR": str(tmp_path / "data")})
    try:
        deadline = time.monotonic() + 90
        answered = 0
        while answered < 20:
            assert server.poll() is None and time.monotonic() < deadline, (tmp_path / "server.log").read_text()
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/papers?q=transformer", timeout=10) as r:
                    assert r.status == 200 and b'"total":0' not in r.read()
                    answered += 1
            except OSError:
                time.sleep(0.3)
        # One worker can answer all twenty before the other has logged its start: wait for both.
        text = (tmp_path / "server.log").read_text()
        while text.count("Started server process") < 2 and time.monotonic() < deadline:
            time.sleep(0.3)
            text = (tmp_path / "server.log").read_text()
        assert text.count("Started server process") == 2 and "(2 workers," in text
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()
