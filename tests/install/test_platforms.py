"""Every pinned dependency installs from a wheel (or pure Python) on every platform we promise:
Linux x86_64 and aarch64, macOS arm64 and x86_64, Windows x86_64, Python 3.11 to 3.13.

Each platform and Python asks the package index for exactly the pinned versions, binary only, as
pip would install them there (`pip download --only-binary=:all: --platform ... --python-version
...`). Environment markers are evaluated for the target platform here, because pip evaluates them
for the machine it runs on. Needs the package index: skipped, saying so, when it cannot be reached.
"""

import re
import subprocess
import sys
import tomllib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from packaging.markers import default_environment
from packaging.requirements import Requirement

from app.settings import PROJECT_ROOT

pytestmark = pytest.mark.network

# pip's platform tags and the marker values there. pip implies older macOS releases but not older
# glibc ones: every manylinux level from manylinux2014 (glibc 2.17) to 2.28 (Debian 10 and later) is named.
MANYLINUX = [f"manylinux_2_{minor}" for minor in range(17, 29)] + ["manylinux2014"]
PLATFORMS = {
    "linux-x86_64": ([f"{tag}_x86_64" for tag in MANYLINUX], {"sys_platform": "linux", "platform_system": "Linux",
                                                  "platform_machine": "x86_64", "os_name": "posix"}),
    "linux-aarch64": ([f"{tag}_aarch64" for tag in MANYLINUX], {"sys_platform": "linux", "platform_system": "Linux",
                                                    "platform_machine": "aarch64", "os_name": "posix"}),
    "macos-arm64": (["macosx_14_0_arm64"], {"sys_platform": "darwin", "platform_system": "Darwin",
                                             "platform_machine": "arm64", "os_name": "posix"}),
    "macos-x86_64": (["macosx_13_0_x86_64"], {"sys_platform": "darwin", "platform_system": "Darwin",
                                               "platform_machine": "x86_64", "os_name": "posix"}),
    "windows-x86_64": (["win_amd64"], {"sys_platform": "win32", "platform_system": "Windows",
                                       "platform_machine": "AMD64", "os_name": "nt"}),
}
PYTHONS = ["3.11", "3.12", "3.13"]
OFFLINE = re.compile(r"NewConnectionError|Max retries exceeded|Temporary failure in name resolution|"
                     r"Network is unreachable|ConnectTimeout|ReadTimeout|ProxyError|Connection refused")


def pinned_requirements() -> list[Requirement]:
    project = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["project"]
    lines = project["dependencies"] + [line for extra in project["optional-dependencies"].values() for line in extra]
    return [Requirement(line) for line in lines]


def for_platform(requirements: list[Requirement], markers: dict, python: str) -> list[str]:
    """The requirements that apply on that platform and Python, without their markers."""
    environment = {**default_environment(), **markers, "python_version": python, "python_full_version": f"{python}.0",
                   "implementation_name": "cpython", "platform_python_implementation": "CPython"}
    return [f"{r.name}{r.specifier}" for r in requirements if r.marker is None or r.marker.evaluate(environment)]


def download(platform: str, python: str, requirements: list[str], into: Path) -> subprocess.CompletedProcess:
    tags, _ = PLATFORMS[platform]
    command = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
               "--python-version", python, "--implementation", "cp", "--timeout", "20", "--retries", "2",
               "--dest", str(into / f"{platform}-{python}"), *[f"--platform={tag}" for tag in tags], *requirements]
    return subprocess.run(command, capture_output=True, text=True, timeout=900)


def test_every_requirement_is_pinned_exactly():
    loose = [str(r) for r in pinned_requirements() if len(r.specifier) != 1 or next(iter(r.specifier)).operator != "=="]
    assert not loose, f"pin these exactly: {loose}"


def test_every_pinned_dependency_has_a_wheel_on_every_platform(tmp_path):
    requirements = pinned_requirements()
    jobs = [(platform, python) for platform in PLATFORMS for python in PYTHONS]
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda job: (job, download(*job, for_platform(requirements, PLATFORMS[job[0]][1],
                                                                                  job[1]), tmp_path)), jobs))
    failures = {job: result.stderr for job, result in results if result.returncode != 0}
    if failures and all(OFFLINE.search(text) for text in failures.values()):
        pytest.skip("the package index cannot be reached from here: cannot check the wheels "
                    + next(iter(failures.values())).strip().splitlines()[-1])
    missing = {f"{platform} Python {python}": re.findall(r"No matching distribution found for (\S+)", text) or
               text.strip().splitlines()[-1:] for (platform, python), text in failures.items()}
    assert not missing, f"no wheel (nor pure Python) for: {missing}"


def test_the_bundled_sqlite_is_asked_for_only_where_it_has_wheels():
    """pysqlite3-binary has Linux x86_64 wheels only; everywhere else the standard library's sqlite3 serves."""
    requirements = pinned_requirements()
    wanted = {platform: any(r.startswith("pysqlite3-binary") for r in for_platform(requirements, markers, "3.12"))
              for platform, (_, markers) in PLATFORMS.items()}
    assert wanted == {"linux-x86_64": True, "linux-aarch64": False, "macos-arm64": False,
                      "macos-x86_64": False, "windows-x86_64": False}
