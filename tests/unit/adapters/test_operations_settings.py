"""The settings of docs/operations.md: defaults, and a bad value named in the error."""

from __future__ import annotations

import json
import logging

import pytest

from patronauth.adapters.config import ConfigError, Settings, hash_share, sharing_cores
from patronauth.adapters.logs import JsonFormatter

BASE = {"PATRONAUTH_DATABASE_URL": "sqlite:///x.db"}


def test_defaults() -> None:
    settings = Settings.from_env(BASE)
    assert settings.log_format == "text"
    assert (settings.db_max_overflow, settings.db_pool_timeout) == (10, 10)
    assert (settings.redis_timeout_ms, settings.redis_retry_seconds) == (1000, 5)
    assert settings.hash_workers >= 1
    assert settings.hash_queue == 64
    assert settings.refusals_per_second == 1500
    assert settings.shutdown_seconds == 30


def test_zero_is_a_queue_and_an_overflow_but_not_a_pool() -> None:
    settings = Settings.from_env(
        {**BASE, "PATRONAUTH_HASH_QUEUE": "0", "PATRONAUTH_DB_MAX_OVERFLOW": "0"}
    )
    assert (settings.hash_queue, settings.db_max_overflow) == (0, 0)
    with pytest.raises(ConfigError, match="PATRONAUTH_HASH_WORKERS must be at least 1"):
        Settings.from_env({**BASE, "PATRONAUTH_HASH_WORKERS": "0"})
    with pytest.raises(ConfigError, match="PATRONAUTH_HASH_QUEUE must be at least 0"):
        Settings.from_env({**BASE, "PATRONAUTH_HASH_QUEUE": "-1"})


def test_refusals_are_paced_unless_the_pace_is_zero() -> None:
    assert (
        Settings.from_env({**BASE, "PATRONAUTH_REFUSALS_PER_SECOND": "0"}).refusals_per_second == 0
    )
    with pytest.raises(ConfigError, match="PATRONAUTH_REFUSALS_PER_SECOND must be at least 0"):
        Settings.from_env({**BASE, "PATRONAUTH_REFUSALS_PER_SECOND": "-5"})
    with pytest.raises(ConfigError, match="must be a whole number"):
        Settings.from_env({**BASE, "PATRONAUTH_REFUSALS_PER_SECOND": "fast"})


@pytest.mark.parametrize("value", ["xml", "JSON lines"])
def test_the_log_format_is_text_or_json(value: str) -> None:
    with pytest.raises(ConfigError, match="PATRONAUTH_LOG_FORMAT must be text or json"):
        Settings.from_env({**BASE, "PATRONAUTH_LOG_FORMAT": value})
    assert Settings.from_env({**BASE, "PATRONAUTH_LOG_FORMAT": "JSON"}).log_format == "json"
    assert Settings.from_env({**BASE, "PATRONAUTH_LOG_FORMAT": ""}).log_format == "text"


def test_a_json_log_line_has_the_fields_and_hides_secret_ones() -> None:
    record = logging.LogRecord("patronauth.redis", logging.WARNING, "f", 1, "lost %s", ("x",), None)
    record.component = "counter"
    record.token = "abc123"
    line = json.loads(JsonFormatter().format(record))
    assert line["level"] == "warning"
    assert line["logger"] == "patronauth.redis"
    assert line["message"] == "lost x"
    assert line["time"].endswith("+00:00")
    assert line["fields"] == {"component": "counter", "token": "[redacted]"}


@pytest.mark.parametrize(
    ("cores", "processes", "share"), [(2, 1, 2), (2, 2, 1), (4, 2, 2), (8, 3, 2), (2, 4, 1)]
)
def test_processes_started_together_share_the_cores_for_argon2(
    cores: int, processes: int, share: int
) -> None:
    assert hash_share(cores, processes) == share


def test_each_of_several_processes_gets_its_share_unless_the_pool_is_configured(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("os.cpu_count", lambda: 4)
    given = {**BASE, "PATRONAUTH_LOG_FORMAT": "json"}
    shared = sharing_cores(given, 2)
    assert shared == {**given, "PATRONAUTH_HASH_WORKERS": "2"}
    assert Settings.from_env(shared).hash_workers == 2
    assert "PATRONAUTH_HASH_WORKERS" not in given  # a new mapping: the caller's is untouched
    # One process keeps the whole machine; a configured pool is each process's own.
    assert Settings.from_env(sharing_cores(given, 1)).hash_workers == 4
    configured = {**given, "PATRONAUTH_HASH_WORKERS": "3"}
    assert sharing_cores(configured, 2) == configured
