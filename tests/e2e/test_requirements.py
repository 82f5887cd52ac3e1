"""Without Chromium the browser tests skip and say why; under CI=true they fail."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]


def run(ci: bool) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    env["PATRONAUTH_TEST_CHROMIUM"] = "/nonexistent/chromium"
    if ci:
        env["CI"] = "true"
    command = [sys.executable, "-m", "pytest", "tests/e2e/test_browser.py", "-q", "-rs"]
    command += ["-k", "polyu_sixth", "-p", "no:cacheprovider", "-p", "no:xdist"]
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=False)


@pytest.mark.parametrize("ci", [False, True], ids=["locally", "under CI"])
def test_without_chromium(ci: bool) -> None:
    result = run(ci)
    assert "Chromium is not available (no /nonexistent/chromium)" in result.stdout
    if ci:
        assert result.returncode == 1, result.stdout
        assert "CI=true requires it" in result.stdout
    else:
        assert result.returncode == 0, result.stdout
        assert "1 skipped" in result.stdout
