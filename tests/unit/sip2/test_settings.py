"""The SIP2 server's settings: TLS files come in pairs; timeouts, threads and processes are
numbers; several processes need a counter they share."""

from __future__ import annotations

from pathlib import Path

import pytest

from patronauth.adapters.config import ConfigError, Settings

BASE = {"PATRONAUTH_PEPPER": "k1 00", "PATRONAUTH_STAFF": "test"}


def test_defaults() -> None:
    s = Settings.from_env(BASE)
    assert (s.sip2_tls_cert, s.sip2_tls_key) == (None, None)
    assert (s.sip2_idle_seconds, s.sip2_threads, s.sip2_processes) == (300, 8, 1)


def test_tls_files_and_numbers() -> None:
    s = Settings.from_env(
        BASE
        | {
            "PATRONAUTH_SIP2_TLS_CERT": "/etc/patronauth/sip2.crt",
            "PATRONAUTH_SIP2_TLS_KEY": "/etc/patronauth/sip2.key",
            "PATRONAUTH_SIP2_IDLE_SECONDS": "60",
            "PATRONAUTH_SIP2_THREADS": "4",
            "PATRONAUTH_SIP2_PROCESSES": "2",
        }
    )
    assert (s.sip2_tls_cert, s.sip2_tls_key) == (
        Path("/etc/patronauth/sip2.crt"),
        Path("/etc/patronauth/sip2.key"),
    )
    assert (s.sip2_idle_seconds, s.sip2_threads, s.sip2_processes) == (60, 4, 2)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"PATRONAUTH_SIP2_TLS_CERT": "c.pem"}, "must be set together"),
        ({"PATRONAUTH_SIP2_TLS_KEY": "k.pem"}, "must be set together"),
        ({"PATRONAUTH_SIP2_IDLE_SECONDS": "0"}, "at least 1"),
        ({"PATRONAUTH_SIP2_THREADS": "many"}, "whole number"),
        ({"PATRONAUTH_SIP2_PROCESSES": "0"}, "at least 1"),
        (
            {"PATRONAUTH_SIP2_PROCESSES": "2", "PATRONAUTH_COUNTER": "memory"},
            "needs a shared counter",
        ),
    ],
)
def test_bad_settings_are_refused(extra: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Settings.from_env(BASE | extra)
