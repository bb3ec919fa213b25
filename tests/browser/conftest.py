"""A live server on the seed catalogue and a headless Debian chromium driven by Playwright."""

import os
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest

from app.settings import PROJECT_ROOT

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
SCREENSHOTS = PROJECT_ROOT / "artifacts" / "screenshots"
STARTUP_SECONDS = 60


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _papers_command() -> list[str]:
    script = Path(sys.executable).with_name("papers")
    return [str(script)] if script.exists() else [sys.executable, "-m", "app.cli"]


@contextmanager
def _serving(data_dir: Path, *extra: str, database: str | None = None):
    """`papers serve` on a free port over `data_dir` (or the PostgreSQL `database`), until the
    93 papers answer /health."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "READ_DATABASE_URL", "BASE_URL")}
    env["DATA_DIR"] = str(data_dir)
    if database:
        env["DATABASE_URL"] = database
    log_path = data_dir / "server.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen([*_papers_command(), "serve", "--host", "127.0.0.1", "--port", str(port),
                                    "--workers", "1", "--log-level", "warning", *extra], env=env, stdout=log,
                                   stderr=subprocess.STDOUT, cwd=PROJECT_ROOT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            if process.poll() is not None:
                pytest.fail(f"server exited with {process.returncode}:\n{log_path.read_text()}")
            try:
                with urllib.request.urlopen(f"{base}/health", timeout=2) as response:
                    if b'"papers":93' in response.read():
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"server did not answer /health in {STARTUP_SECONDS}s:\n{log_path.read_text()}")
            time.sleep(0.2)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="session")
def live_server(tmp_path_factory, backend, make_database):
    """`papers serve` over a fresh data dir (or an empty PostgreSQL database): it migrates and
    loads the 93 seed papers."""
    database = make_database("live") if backend == "postgres" else None
    with _serving(tmp_path_factory.mktemp("live"), database=database) as base:
        yield base


def _served(tmp_path_factory, where):
    """The data dir and database URL to serve a built catalogue (an SQLite path or a URL) from."""
    if isinstance(where, Path):
        return where.parent, None
    return tmp_path_factory.mktemp("served"), where


@pytest.fixture(scope="session")
def rich_server(rich_database, tmp_path_factory):
    """`papers serve` over the seed papers with authors, ids, categories and dates (tests/rich_catalogue.py)."""
    data_dir, database = _served(tmp_path_factory, rich_database)
    with _serving(data_dir, "--no-seed", database=database) as base:
        yield base


@pytest.fixture(scope="session")
def trending_server(trending_database, tmp_path_factory):
    """`papers serve` over the rich catalogue with upvotes on a few papers."""
    data_dir, database = _served(tmp_path_factory, trending_database)
    with _serving(data_dir, "--no-seed", database=database) as base:
        yield base


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        # `make test` installs it; in CI a missing browser is a failure, not a pass.
        message = f"no chromium at {CHROMIUM}: `make test` installs Debian's chromium"
        pytest.fail(message) if os.environ.get("CI") else pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


@pytest.fixture
def context_factory(browser):
    contexts = []

    def make(**options):
        options.setdefault("viewport", {"width": 1280, "height": 900})
        context = browser.new_context(**options)
        context.set_default_timeout(10_000)
        contexts.append(context)
        return context

    yield make
    for context in contexts:
        context.close()


def _watched(tab):
    """Collects the page's JavaScript errors, which the fixtures below turn into failures."""
    errors: list[str] = []
    tab.on("pageerror", lambda error: errors.append(str(error)))
    tab.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    tab.console_errors = errors  # a test that provokes an expected error removes it here
    return tab


@pytest.fixture
def page(context_factory, live_server):
    """A page whose JavaScript errors fail the test."""
    tab = _watched(context_factory(base_url=live_server).new_page())
    yield tab
    assert tab.console_errors == []


DEVICES = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}


@pytest.fixture(params=[("desktop", "light"), ("desktop", "dark"), ("phone", "light"), ("phone", "dark")],
                ids=lambda p: "-".join(p))
def rich_page(request, context_factory, rich_server):
    """A page on the rich catalogue, at desktop and phone sizes, light and dark; JavaScript errors fail it."""
    device, scheme = request.param
    context = context_factory(base_url=rich_server, viewport=DEVICES[device], color_scheme=scheme,
                              has_touch=device == "phone")
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=rich_server)
    tab = _watched(context.new_page())
    tab.device = device
    yield tab
    assert tab.console_errors == []


@pytest.fixture(scope="session")
def screenshots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS
