"""A live `papers serve` on 127.0.0.1 and a small keep-alive HTTP client, for tests that need a real server."""

import asyncio
import http.client
import json
import os
import socket
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

from app.settings import PROJECT_ROOT


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def papers_command() -> list[str]:
    script = Path(sys.executable).with_name("papers")
    return [str(script)] if script.exists() else [sys.executable, "-m", "app.cli"]


@contextmanager
def live_server(data_dir: Path, *extra: str, startup_seconds: float = 120, env_extra: dict | None = None):
    """`papers serve` over `data_dir`; yields (port, log path) once /health answers, stops it afterwards."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "READ_DATABASE_URL", "BASE_URL")}
    env.update(DATA_DIR=str(data_dir), **(env_extra or {}))
    data_dir.mkdir(parents=True, exist_ok=True)
    log_path = data_dir.parent / f"server-{port}.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen([*papers_command(), "serve", "--host", "127.0.0.1", "--port", str(port),
                                    "--workers", "1", "--log-level", "warning", *extra], env=env, stdout=log,
                                   stderr=subprocess.STDOUT, cwd=PROJECT_ROOT)
    try:
        deadline = time.monotonic() + startup_seconds
        while True:
            if process.poll() is not None:
                raise AssertionError(f"server exited with {process.returncode}:\n{log_path.read_text()}")
            try:
                with Client(port, timeout=2) as probe:
                    status, _ = probe.get_json("/health")
                if status in (200, 503):
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"no /health answer in {startup_seconds}s:\n{log_path.read_text()}")
            time.sleep(0.2)
        yield port, log_path, process
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


class Client:
    """One keep-alive connection; reconnects when the server closes it."""

    def __init__(self, port: int, timeout: float = 60):
        self.port, self.timeout = port, timeout
        self.conn: http.client.HTTPConnection | None = None

    def get(self, path: str) -> tuple[int, bytes]:
        for attempt in range(2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
            try:
                self.conn.request("GET", path)
                response = self.conn.getresponse()
                return response.status, response.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.close()
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def get_json(self, path: str):
        status, body = self.get(path)
        return status, json.loads(body) if body else None

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def in_own_loop(make_coroutine):
    """Run a coroutine on an event loop of its own thread: an earlier test in this process
    (the browser tests' sync Playwright) may leave a loop running in this one."""
    result: list = []
    worker = threading.Thread(target=lambda: result.append(asyncio.run(make_coroutine())))
    worker.start()
    worker.join()
    assert result, "the coroutine raised (see the thread's traceback above)"
    return result[0]
