"""The built wheel is the whole app: installed into a fresh virtual environment, far from the source
tree, its `papers` command migrates, ingests the seed papers, and serves pages, static files and
searches from wherever it runs (templates, static files and migrations are package data).

Needs the package index (the build backend and the dependencies come from it; pip's cache makes a
second run quick): skipped, saying so, when it cannot be reached.
"""

import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from app.settings import PROJECT_ROOT, SEED_FILE

pytestmark = pytest.mark.network
OFFLINE = re.compile(r"NewConnectionError|Max retries exceeded|Temporary failure in name resolution|"
                     r"Network is unreachable|ConnectTimeout|ReadTimeout|ProxyError|Connection refused")


def run(command, **kwargs) -> subprocess.CompletedProcess:
    result = subprocess.run(command, capture_output=True, text=True, timeout=600, **kwargs)
    if result.returncode != 0 and OFFLINE.search(result.stderr):
        pytest.skip(f"the package index cannot be reached from here: {result.stderr.strip().splitlines()[-1]}")
    assert result.returncode == 0, f"{command} exited {result.returncode}:\n{result.stdout}\n{result.stderr}"
    return result


def bin_path(venv: Path, name: str) -> Path:
    return venv / ("Scripts" if os.name == "nt" else "bin") / name


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def get(url: str) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.status, response.read().decode()


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """A fresh venv with the wheel built from this tree installed in it (not editable)."""
    root = tmp_path_factory.mktemp("wheel")
    source = root / "source"  # a clean copy: the build sees tracked files only, never .venv or data
    files = subprocess.run(["git", "ls-files", "-z"], cwd=PROJECT_ROOT, capture_output=True, check=True).stdout
    for name in filter(None, files.decode().split("\0")):
        if (PROJECT_ROOT / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(PROJECT_ROOT / name, source / name)
    run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", str(root / "dist"), str(source)])
    wheel = next((root / "dist").glob("papers_catalogue-*.whl"))
    venv = root / "venv"
    run([sys.executable, "-m", "venv", str(venv)])
    run([str(bin_path(venv, "python")), "-m", "pip", "install", "--quiet", str(wheel)])
    shutil.rmtree(source)  # nothing may come from the tree the wheel was built from
    return venv


@pytest.fixture
def elsewhere(installed, tmp_path):
    """A directory with nothing of the project in it, and an environment that points nowhere."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("DATA_DIR", "DATABASE_URL", "PYTHONPATH", "VIRTUAL_ENV", "BASE_URL")}
    return tmp_path, env


def test_the_wheel_carries_templates_static_files_and_migrations(installed):
    code = ("import app, app.resources as r; print(app.__file__); "
            "print(*(p for p in (r.templates_dir(), r.static_dir(), r.migrations_dir(), r.alembic_ini())), sep='\\n')")
    lines = run([str(bin_path(installed, "python")), "-c", code], cwd=installed).stdout.splitlines()
    assert all(Path(line).resolve().is_relative_to(installed.resolve()) for line in lines), lines
    assert any((Path(lines[2]) / "vendor").glob("htmx-*.min.js")), "the vendored htmx ships in the wheel"


def test_installed_papers_migrates_ingests_and_serves_a_search_from_any_directory(elsewhere, installed):
    cwd, env = elsewhere
    papers = str(bin_path(installed, "papers"))
    run([papers, "db", "upgrade"], cwd=cwd, env=env)
    assert (cwd / "data" / "papers.db").exists()  # ./data of the directory it runs in
    with open(SEED_FILE, "rb") as seed:
        loaded = run([papers, "ingest", "-", "--format", "seed", "--quiet"], cwd=cwd, env=env, stdin=seed)
    assert "inserted 93" in loaded.stderr
    port = free_port()
    with open(cwd / "server.log", "wb") as log:
        server = subprocess.Popen([papers, "serve", "--port", str(port), "--workers", "1", "--log-level", "warning"],
                                  cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, (cwd / "server.log").read_text()
            try:
                if get(f"{base}/health")[0] == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, (cwd / "server.log").read_text()
            time.sleep(0.3)
        status, body = get(f"{base}/api/papers?q=transformer")
        assert status == 200 and '"total":0' not in body and "Transformer" in body
        status, page = get(f"{base}/?q=transformer")
        assert status == 200 and "<mark>" in page
        script = re.search(r'src="(/static/vendor/htmx-[\d.]+\.min\.js)"', page)
        assert script, "the page loads the vendored htmx"
        assert get(base + script.group(1))[0] == 200
    finally:
        server.terminate()
        server.wait(timeout=30)
