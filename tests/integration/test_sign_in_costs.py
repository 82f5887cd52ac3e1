"""What a sign-in costs besides its hash, in counts (P1): transactions, commits, the
session row in the outcome's transaction, reads beside SQLite's writer, no thread per
throttle hit, Redis round trips."""

from __future__ import annotations

import secrets
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from limits import parse
from limits.storage import RedisStorage
from limits.strategies import SlidingWindowCounterRateLimiter
from redis import Redis
from redis.connection import AbstractConnection
from sqlalchemy import event, func, select

from patronauth.adapters.counters.redis import RedisAttemptCounter
from patronauth.adapters.sessions import RedisSessionStore
from patronauth.adapters.storage import tables as t
from patronauth.adapters.throttle import LimitsThrottle
from patronauth.bootstrap import App
from patronauth.domain.credentials import Channel, Outcome
from patronauth.domain.identifiers import lockout_key
from patronauth.domain.lockout import Admitted, Blocked, LockoutRule
from patronauth.domain.profile import ForcedChange
from patronauth.domain.sessions import Scope, SessionChannel, SessionPolicy
from patronauth.services.authenticate import Attempt
from patronauth.services.credentials import ChangeRequest, change_secret
from patronauth.services.signin import sign_in
from tests.servers import PrivateRedis
from tests.support import clear_of_the_minute_edge, register

PASSWORD = "Lib#Reader2026"
NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)


@pytest.fixture
def chosen(app: App) -> App:
    register(app, "hkpl", "HKPL0001", phone="9123 4567")
    change_secret(app.ports, ChangeRequest("HKPL0001", "4567", PASSWORD, PASSWORD, Channel.WEB))
    return app


class Transactions:
    """The statements of each transaction on an engine, in order."""

    def __init__(self) -> None:
        self.done: list[list[str]] = []
        self.commits = 0
        self._open: list[str] = []

    def begin(self, _conn: Any) -> None:
        self._open = []

    def statement(self, _conn: Any, _cursor: Any, text: str, *_: Any) -> None:
        self._open.append(" ".join(text.split()).upper())

    def commit(self, _conn: Any) -> None:
        self.commits += 1
        self.done.append(self._open)

    def rollback(self, _conn: Any) -> None:
        self.done.append(self._open)


@contextmanager
def watched(app: App) -> Iterator[Transactions]:
    seen = Transactions()
    hooks = [
        ("begin", seen.begin),
        ("before_cursor_execute", seen.statement),
        ("commit", seen.commit),
        ("rollback", seen.rollback),
    ]
    for name, hook in hooks:
        event.listen(app.engine, name, hook)
    try:
        yield seen
    finally:
        for name, hook in hooks:
            event.remove(app.engine, name, hook)


def test_a_sign_in_writes_its_outcome_audit_and_session_in_one_transaction(
    chosen: App,
) -> None:
    """Sessions in the database (no Redis): after the hash, one commit holds the
    outcome, its audit record and the new session; the counter's admit and settle are
    the other two. The admission comes before the lookup and answers a block itself:
    the block is not read apart."""
    attempt = Attempt("HKPL0001", PASSWORD, Channel.APP, source="192.0.2.7")
    with watched(chosen) as seen:
        signed = sign_in(chosen.ports, attempt, session=SessionChannel.APP)
    assert signed.result.outcome is Outcome.OK
    assert signed.opened is not None
    assert seen.commits == 3
    assert len(seen.done) == 4  # admit, lookup, outcome + session, settle
    admission, lookup = seen.done[0], seen.done[1]
    assert all("ATTEMPT_COUNTERS" in s for s in admission)
    assert not any("ATTEMPT_COUNTERS" in s for s in lookup)
    with_session = [
        statements
        for statements in seen.done
        if any(s.startswith("INSERT INTO SESSIONS") for s in statements)
    ]
    assert len(with_session) == 1
    assert any(s.startswith("INSERT INTO AUDIT_EVENTS") for s in with_session[0])
    with chosen.engine.connect() as conn:
        rows = conn.execute(select(func.count()).select_from(t.sessions)).scalar_one()
    assert rows == 1


def test_a_sign_in_reads_the_card_and_its_credentials_in_one_statement(chosen: App) -> None:
    """Before the hash, one SELECT finds the card with the patron's credentials and
    the count of the institution's forced changes: no statement reads the credentials
    on their own, nor the forced changes when none is on record (two round trips fewer
    on PostgreSQL)."""
    attempt = Attempt("HKPL0001", PASSWORD, Channel.APP, source="192.0.2.7")
    with watched(chosen) as seen:
        assert sign_in(chosen.ports, attempt).result.outcome is Outcome.OK
    reads = [s for statements in seen.done for s in statements if s.startswith("SELECT")]
    [lookup] = [s for s in reads if "LOOKUP_KEY" in s]
    assert "LEFT OUTER JOIN CREDENTIALS" in lookup
    assert "FROM FORCED_CHANGES" in lookup
    assert [s for s in reads if "FROM CREDENTIALS" in s] == []
    assert [s for s in reads if s.startswith("SELECT FORCED_CHANGES")] == []


def test_a_forced_change_on_record_is_read_after_the_hash_and_applies(chosen: App) -> None:
    """R26 still holds with the count read before the hash: a forced change on record
    (go-live today, after the password was chosen) is read and makes the sign-in
    must-change."""
    with chosen.engine.begin() as conn:  # chosen a month ago
        conn.execute(t.credentials.update().values(set_at=NOW - timedelta(days=30)))
    attempt = Attempt("HKPL0001", PASSWORD, Channel.APP, source="192.0.2.7")
    assert sign_in(chosen.ports, attempt).result.outcome is Outcome.OK
    with chosen.ports.uow() as uow:
        today = chosen.ports.profiles.get("hkpl").day_of(chosen.ports.clock.now())
        uow.forced_changes.add("hkpl", ForcedChange(today), created_by="staff", at=NOW)
        uow.commit()
    with watched(chosen) as seen:
        assert sign_in(chosen.ports, attempt).result.outcome is Outcome.MUST_CHANGE
    reads = [s for statements in seen.done for s in statements if s.startswith("SELECT")]
    assert len([s for s in reads if s.startswith("SELECT FORCED_CHANGES")]) == 1


def test_a_card_whose_patron_holds_no_credential_is_refused_as_not_set_up(
    chosen: App,
) -> None:
    """The outer join gives the card with no credential: refused, as before the read
    was one statement (the audit record says why)."""
    with chosen.engine.begin() as conn:
        conn.execute(t.credentials.delete())
    attempt = Attempt("HKPL0001", PASSWORD, Channel.APP, source="192.0.2.7")
    assert sign_in(chosen.ports, attempt).result.outcome is Outcome.INVALID
    with chosen.ports.read() as uow:
        [last] = uow.audit.recent(limit=1)
    assert last.event.detail.get("reason") == "not_set_up"


def test_a_refused_sign_in_opens_no_session(chosen: App) -> None:
    attempt = Attempt("HKPL0001", "Wrong#Pass1", Channel.APP, source="192.0.2.7")
    signed = sign_in(chosen.ports, attempt, session=SessionChannel.APP)
    assert signed.result.outcome is Outcome.INVALID
    assert signed.opened is None
    with chosen.engine.connect() as conn:
        rows = conn.execute(select(func.count()).select_from(t.sessions)).scalar_one()
    assert rows == 0


def test_reads_go_on_beside_a_writer_holding_sqlites_write_lock(chosen: App) -> None:
    if chosen.engine.dialect.name != "sqlite":
        pytest.skip("SQLite's write lock")
    path = chosen.engine.url.database
    assert path is not None
    writer = sqlite3.connect(path, isolation_level=None, timeout=1)
    writer.execute("BEGIN IMMEDIATE")
    try:
        started = time.monotonic()
        with chosen.ports.read() as uow:
            found = uow.patrons.find(lockout_key("HKPL0001"))
        assert chosen.ports.counter.blocked_for(lockout_key("HKPL0001"), 0) == 0
        assert len(found) == 1
        assert time.monotonic() - started < 5  # not queued behind the writer (30 s)
    finally:
        writer.execute("ROLLBACK")
        writer.close()


def test_the_memory_throttle_starts_no_thread_per_hit(monkeypatch: pytest.MonkeyPatch) -> None:
    throttle = LimitsThrottle("memory://", per_source="1000 per minute", overall="1000 per second")
    started: list[threading.Thread] = []
    start = threading.Thread.start

    def counted(self: threading.Thread) -> None:
        started.append(self)
        start(self)

    monkeypatch.setattr(threading.Thread, "start", counted)
    for _ in range(10):
        assert throttle.hit("attempt", "192.0.2.7") == 0
        time.sleep(0.015)  # longer than the library's 10 ms sweep timer
    assert started == []
    for _ in range(1000 - 10):
        throttle.hit("attempt", "192.0.2.7")
    assert throttle.hit("attempt", "192.0.2.7") > 0  # the per-source limit still holds


@contextmanager
def redis_sends(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[object]]:
    """What redis-py sends inside the block: one entry per round trip (a pipeline's
    commands go in one)."""
    sent: list[object] = []
    send = AbstractConnection.send_packed_command

    def counted(self: AbstractConnection, *args: Any, **options: Any) -> None:
        sent.append(args)
        send(self, *args, **options)

    monkeypatch.setattr(AbstractConnection, "send_packed_command", counted)
    try:
        yield sent
    finally:
        monkeypatch.undo()


def test_a_redis_session_is_opened_in_one_round_trip(
    redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    prefix = f"patronauth:test:{secrets.token_hex(4)}:"
    client = Redis.from_url(redis_url)
    store = RedisSessionStore(
        client, SessionPolicy(idle_seconds=900, absolute_seconds=28800), prefix=prefix
    )
    client.ping()
    try:
        store.create("a" * 64, 7, SessionChannel.APP, Scope.FULL, None, source="", now=NOW)
        with redis_sends(monkeypatch) as sent:
            second = store.create(
                "b" * 64, 7, SessionChannel.APP, Scope.FULL, None, source="", now=NOW
            )
        assert len(sent) == 1
        found = store.find("b" * 64)
        assert found is not None
        assert (found.id, found.patron_id, found.scope) == (second.id, 7, Scope.FULL)
        first = store.find("a" * 64)
        assert first is not None
        assert first.id != second.id
    finally:
        for key in client.scan_iter(f"{prefix}*"):
            client.delete(key)
        client.close()


def test_the_redis_counter_admits_and_settles_in_one_round_trip_each(
    redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    prefix = f"patronauth:test:{secrets.token_hex(4)}:"
    client = Redis.from_url(redis_url)
    counter = RedisAttemptCounter(client, prefix=prefix)
    rule, at = LockoutRule(), NOW.timestamp()
    warm = counter.admit("K", at, rule)  # the scripts are loaded on first use
    assert isinstance(warm, Admitted)
    counter.settle("K", warm.ticket, success=False, now=at, rule=rule)
    try:
        with redis_sends(monkeypatch) as sent:
            for i in range(1, 5):
                admitted = counter.admit("K", at + i, rule)
                assert isinstance(admitted, Admitted)
                counter.settle("K", admitted.ticket, success=False, now=at + i, rule=rule)
            refused = counter.admit("K", at + 5, rule)
        assert len(sent) == 4 * 2 + 1
        assert refused == Blocked(59)
    finally:
        for key in client.scan_iter(f"{prefix}*"):
            client.delete(key)
        client.close()


def test_the_redis_throttle_counts_both_limits_in_one_round_trip(
    redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    prefix = f"patronauth-test-{secrets.token_hex(4)}"
    storage = RedisStorage(redis_url, key_prefix=prefix, wrap_exceptions=True)
    throttle = LimitsThrottle(storage, per_source="3 per minute", overall="1000 per minute")
    library = SlidingWindowCounterRateLimiter(storage)
    source, ceiling = parse("3 per minute"), parse("1000 per minute")
    clear_of_the_minute_edge()
    try:
        assert throttle.hit("attempt", "192.0.2.7") == 0  # the script is loaded on first use
        with redis_sends(monkeypatch) as sent:
            assert throttle.hit("attempt", "192.0.2.7") == 0
        assert len(sent) == 1
        # The counts are the library's own: its limiter reads both windows.
        assert library.get_window_stats(source, "attempt", "192.0.2.7").remaining == 1
        assert library.get_window_stats(ceiling, "attempt", "*").remaining == 998
        assert throttle.hit("attempt", "192.0.2.7") == 0
        assert 1 <= throttle.hit("attempt", "192.0.2.7") <= 60  # the fourth in a minute
        assert throttle.hit("attempt", "192.0.2.8") == 0  # another source still passes
        assert library.get_window_stats(ceiling, "attempt", "*").remaining == 995
    finally:
        connection = storage.get_connection()
        for key in connection.scan_iter(f"{prefix}*"):
            connection.delete(key)


@pytest.mark.redis
def test_the_redis_throttle_counts_after_redis_forgot_its_script(
    private_redis: PrivateRedis,
) -> None:
    storage = RedisStorage(private_redis.url, wrap_exceptions=True)
    throttle = LimitsThrottle(storage, per_source="2 per minute", overall="1000 per minute")
    clear_of_the_minute_edge()
    assert throttle.hit("attempt", "192.0.2.7") == 0
    storage.get_connection().script_flush()
    assert throttle.hit("attempt", "192.0.2.7") == 0  # counted by the library's own call
    assert throttle.hit("attempt", "192.0.2.7") >= 1  # the third in a minute: refused
    library = SlidingWindowCounterRateLimiter(storage)
    assert library.get_window_stats(parse("1000 per minute"), "attempt", "*").remaining == 997
