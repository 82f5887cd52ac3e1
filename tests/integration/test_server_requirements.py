"""Tests needing PostgreSQL or Redis skip with a reason, except under CI=true: there they fail."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
CASES = {
    "PostgreSQL": ("PATRONAUTH_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:9/test"),
    "Redis": ("PATRONAUTH_TEST_REDIS", "redis://127.0.0.1:9/0"),
}
SELECT = {"PostgreSQL": "postgresql and successes", "Redis": "redis and successes"}


def run(server: str, ci: bool) -> subprocess.CompletedProcess[str]:
    variable, unreachable = CASES[server]
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    env[variable] = unreachable
    if ci:
        env["CI"] = "true"
    command = [sys.executable, "-m", "pytest", "tests/integration/test_counters.py", "-q", "-rs"]
    command += ["-k", SELECT[server], "-p", "no:cacheprovider"]
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=False)


@pytest.mark.parametrize("server", sorted(CASES))
def test_an_unreachable_server_is_a_skip_with_its_reason(server: str) -> None:
    result = run(server, ci=False)
    assert result.returncode == 0, result.stdout
    assert "1 skipped" in result.stdout
    assert f"{server} is not reachable" in result.stdout


@pytest.mark.parametrize("server", sorted(CASES))
def test_under_ci_an_unreachable_server_fails_the_run(server: str) -> None:
    result = run(server, ci=True)
    assert result.returncode == 1, result.stdout
    assert "CI=true requires it" in result.stdout
