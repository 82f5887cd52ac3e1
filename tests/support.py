"""Helpers for tests: building apps over real databases, registering, attempting."""

from __future__ import annotations

import secrets
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from patronauth.adapters.clock import ManualClock
from patronauth.adapters.config import Settings
from patronauth.adapters.hashing import Argon2Hasher
from patronauth.bootstrap import App, build
from patronauth.domain.credentials import Channel, CredentialKind
from patronauth.domain.errors import StorageUnavailable
from patronauth.services.authenticate import Attempt, AuthResult, authenticate
from patronauth.services.registration import Registration, add_patron

START = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
STAFF = "staff:test"
TEST_PEPPER = f"t1 {secrets.token_hex(32)}"


METRICS_TOKEN = "test-metrics-token-" + "m" * 24
METRICS_HEADERS = {"Authorization": f"Bearer {METRICS_TOKEN}"}


def clear_of_the_minute_edge(margin: float = 10.0) -> None:
    """For a test that counts hits under an "N per minute" throttle: waits for the next
    minute when fewer than `margin` seconds of this one are left. The throttles'
    sliding-window counter (`limits`) counts in windows that start on the minute, and
    just after one starts the last window's hits weigh a little less than all of them:
    a test that ran across the minute could see one hit more let through."""
    left = 60 - time.time() % 60
    if left < margin:
        time.sleep(left + 0.05)


def test_env(database_url: str, var_dir: Path, **extra: str) -> dict[str, str]:
    """The environment of a test deployment: cheap argon2, an inline pepper."""
    return {
        "PATRONAUTH_DATABASE_URL": database_url,
        "PATRONAUTH_VAR_DIR": str(var_dir),
        "PATRONAUTH_PEPPER": TEST_PEPPER,
        "PATRONAUTH_ARGON2_TIME_COST": "1",
        "PATRONAUTH_ARGON2_MEMORY_KIB": "1024",
        "PATRONAUTH_COUNTER": "sql",
        "PATRONAUTH_STAFF": "test",
        "PATRONAUTH_METRICS_TOKEN": METRICS_TOKEN,
        **extra,
    }


def make_app(env: dict[str, str], clock: ManualClock | None = None) -> App:
    app = build(Settings.from_env(env))
    ports = replace(app.ports, clock=clock or ManualClock(START))
    return replace(app, ports=ports)


def clock_of(app: App) -> ManualClock:
    clock = app.ports.clock
    assert isinstance(clock, ManualClock)
    return clock


def hasher_of(app: App) -> Argon2Hasher:
    hasher = app.ports.hasher
    assert isinstance(hasher, Argon2Hasher)
    return hasher


def register(app: App, institution: str, barcode: str, **fields: Any) -> None:
    add_patron(app.ports, Registration(institution, barcode, **fields), staff=STAFF)


def attempt(
    app: App,
    identifier: str,
    secret: str,
    channel: Channel = Channel.WEB,
    kind: CredentialKind | None = None,
    **extra: Any,
) -> AuthResult:
    return authenticate(app.ports, Attempt(identifier, secret, channel, kind, **extra))


class DatabaseGone:
    """A session store (or its database part) whose database has just gone away, as it
    does right after a command's commit: every call that would reach it fails as a unit
    of work does (`StorageUnavailable`)."""

    def __init__(self, store: Any) -> None:
        self._store = store
        self.in_database = store.in_database

    def row_id(self, session: Any) -> int | None:
        return self._store.row_id(session)  # type: ignore[no-any-return]

    def __getattr__(self, name: str) -> Any:
        def unavailable(*args: Any, **kwargs: Any) -> Any:
            raise StorageUnavailable("connection refused")

        return unavailable
