"""Sessions in Redis (SPEC 5), through the session use cases, and the database fallback
while Redis is unreachable."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from redis import Redis

from patronauth.adapters import metrics
from patronauth.adapters.redis_health import RedisHealth
from patronauth.adapters.redis_health import client as redis_client
from patronauth.adapters.sessions import FallbackSessionStore, RedisSessionStore
from patronauth.adapters.storage.sessions import SqlSessionStore
from patronauth.bootstrap import App, build
from patronauth.domain.credentials import Channel, CredentialKind
from patronauth.domain.errors import Refused
from patronauth.domain.sessions import Scope, Session, SessionChannel
from patronauth.services.credentials import Changed, ChangeRequest, change_secret
from patronauth.services.sessions import (
    close_session,
    current_session,
    open_session,
    token_hash,
)
from tests.servers import PrivateRedis
from tests.support import DatabaseGone, attempt, clock_of, make_app, register

pytestmark = pytest.mark.redis


@pytest.fixture
def prefix(redis_url: str) -> Iterator[str]:
    """A key prefix of this test alone (test runs may overlap on the shared Redis)."""
    name = f"patronauth-test:{secrets.token_hex(6)}:"
    yield name
    client = Redis.from_url(redis_url)
    keys = list(client.scan_iter(match=f"{name}*"))
    if keys:
        client.delete(*keys)
    client.close()


def _with_redis_sessions(app: App, url: str, prefix: str) -> tuple[App, Redis]:
    client = Redis.from_url(url)
    store = FallbackSessionStore(
        RedisSessionStore(client, app.ports.session_policy, prefix=prefix),
        SqlSessionStore(app.engine),
        RedisHealth("sessions", retry_seconds=0),  # tried again on every call
    )
    return replace(app, ports=replace(app.ports, sessions=store)), client


def change(
    app: App, session: Session, current: str, new: str, channel: Channel, *, rotate: bool = False
) -> Changed:
    """A signed-in patron's change of the password, as the web pages and the app make it."""
    request = ChangeRequest(None, current, new, new, channel, CredentialKind.PASSWORD, source="t")
    return change_secret(app.ports, request, session=session, rotate=rotate)


@pytest.fixture
def hkpl(sqlite_url: str, tmp_path: Path, redis_url: str, prefix: str) -> Iterator[App]:
    from tests.support import test_env

    base = make_app(test_env(sqlite_url, tmp_path / "var"))
    app, client = _with_redis_sessions(base, redis_url, prefix)
    register(app, "hkpl", "HKPL0001", name="Chan Tai Man", phone="9123 4567")
    yield app
    client.close()
    app.close()


def sign_in(app: App, secret: str = "4567", channel: Channel = Channel.WEB) -> str:  # noqa: S107
    result = attempt(app, "HKPL0001", secret, channel)
    assert result.signed_in
    return open_session(app.ports, result, SessionChannel(channel.value), source="t").token


def refusal(app: App, token: str | None) -> str:
    with pytest.raises(Refused) as refused:
        current_session(app.ports, token)
    return refused.value.code


def test_a_session_lives_in_redis_under_the_hash_of_its_token(
    hkpl: App, redis_url: str, prefix: str
) -> None:
    token = sign_in(hkpl)
    session = current_session(hkpl.ports, token)
    assert session.id > 0  # a Redis session
    assert session.scope is Scope.CHANGE
    assert session.change_kind is CredentialKind.PASSWORD
    client = Redis.from_url(redis_url)
    stored = b" ".join(
        list(client.scan_iter(match=f"{prefix}*"))
        + [v for key in client.scan_iter(match=f"{prefix}s:*") for v in client.hvals(key)]
    )
    assert token.encode() not in stored
    assert f"{prefix}t:{token_hash(token)}".encode() in stored
    # the keys end after the timeouts, never before (15 min idle + the grace period)
    ttl = client.ttl(f"{prefix}s:{session.id}")
    assert 15 * 60 < ttl <= 15 * 60 + 3600
    client.close()
    # nothing in the database
    assert SqlSessionStore(hkpl.engine).find(token_hash(token)) is None


def test_idle_and_absolute_timeouts(hkpl: App) -> None:
    clock = clock_of(hkpl)
    token = sign_in(hkpl)
    clock.advance(840)
    current_session(hkpl.ports, token)  # a use: the idle timeout starts again
    clock.advance(840)
    current_session(hkpl.ports, token)
    clock.advance(900)
    assert refusal(hkpl, token) == "session.expired"

    token = sign_in(hkpl)
    for _ in range(47):  # in use every 10 minutes for 7 h 50 min
        clock.advance(600)
        current_session(hkpl.ports, token)
    clock.advance(600)
    assert refusal(hkpl, token) == "session.expired"  # 8 hours in all


def test_sign_out_and_sign_out_everywhere(hkpl: App) -> None:
    first, second, third = sign_in(hkpl), sign_in(hkpl), sign_in(hkpl, channel=Channel.APP)
    close_session(hkpl.ports, first)
    assert refusal(hkpl, first) == "session.invalid"
    assert (
        current_session(hkpl.ports, second).patron_id
        == current_session(hkpl.ports, third).patron_id
    )
    session = current_session(hkpl.ports, third)
    changed = change(hkpl, session, "4567", "Lib#Reader2026", Channel.APP)
    assert changed.opened is None
    assert refusal(hkpl, second) == "session.invalid"  # the other sessions ended
    assert current_session(hkpl.ports, third).scope is Scope.FULL  # the app kept its token
    opened = change(
        hkpl, current_session(hkpl.ports, third), "Lib#Reader2026", "Lib#Reader2027",
        Channel.WEB, rotate=True,
    ).opened  # fmt: skip
    assert opened is not None
    assert refusal(hkpl, third) == "session.invalid"  # rotated: a new id, the old one ends
    assert current_session(hkpl.ports, opened.token).scope is Scope.FULL
    assert refusal(hkpl, "not-a-token") == "session.not_issued"
    assert refusal(hkpl, None) == "session.missing"


def test_redis_down_new_sessions_go_to_the_database_and_stay_valid_after(
    sqlite_url: str, tmp_path: Path, private_redis: PrivateRedis
) -> None:
    from tests.support import test_env

    base = make_app(test_env(sqlite_url, tmp_path / "var"))
    app, client = _with_redis_sessions(base, private_redis.url, "patronauth:sessions:")
    register(app, "hkpl", "HKPL0001", name="Chan Tai Man", phone="9123 4567")
    try:
        in_redis = sign_in(app)
        assert current_session(app.ports, in_redis).id > 0
        private_redis.kill()
        # a Redis session cannot be checked: the patron signs in again
        assert refusal(app, in_redis) == "session.invalid"
        assert metrics.sample("patronauth_redis_fallback_active", {"component": "sessions"}) == 1
        in_database = sign_in(app)
        session = current_session(app.ports, in_database)
        assert session.id < 0  # held by the database
        assert SqlSessionStore(app.engine).find(token_hash(in_database)) is not None
        private_redis.start()  # back, empty (no persistence)
        assert current_session(app.ports, in_database).id == session.id
        assert refusal(app, in_redis) == "session.invalid"  # its Redis record is gone
        fresh = sign_in(app)
        assert current_session(app.ports, fresh).id > 0  # Redis again
        assert metrics.sample("patronauth_redis_fallback_active", {"component": "sessions"}) == 0
        # sign out everywhere reaches both stores
        assert app.ports.sessions.revoke_patron(session.patron_id, clock_of(app).now()) == 2
        assert refusal(app, in_database) == "session.invalid"
        assert refusal(app, fresh) == "session.invalid"
    finally:
        client.close()
        app.close()


def test_a_change_while_redis_is_unreachable_ends_the_redis_sessions_when_it_answers(
    sqlite_url: str, tmp_path: Path, private_redis: PrivateRedis
) -> None:
    """Redis paused (unreachable, nothing lost): the change's "end the other sessions"
    is owed to Redis and settled before an old Redis session is accepted again."""
    from tests.support import test_env

    base = make_app(test_env(sqlite_url, tmp_path / "var"))
    client = redis_client(private_redis.url, timeout_seconds=0.3)
    store = FallbackSessionStore(
        RedisSessionStore(client, base.ports.session_policy, prefix="s:"),
        SqlSessionStore(base.engine),
        RedisHealth("sessions", retry_seconds=0),
    )
    app = replace(base, ports=replace(base.ports, sessions=store))
    register(app, "hkpl", "HKPL0001", name="Chan Tai Man", phone="9123 4567")
    try:
        in_redis = sign_in(app)
        private_redis.pause()
        assert refusal(app, in_redis) == "session.invalid"  # cannot be checked now
        in_database = sign_in(app)
        session = current_session(app.ports, in_database)
        assert session.id < 0
        # no error: the database's sessions end now, the Redis ones are owed
        assert change(app, session, "4567", "Lib#Reader2026", Channel.APP).opened is None
        clock_of(app).advance(60)
        private_redis.resume()  # back with everything it held
        newer = sign_in(app, "Lib#Reader2026")  # begun after the change: not ended
        assert refusal(app, in_redis) == "session.invalid"  # the owed end was settled
        assert current_session(app.ports, newer).id > 0
        assert current_session(app.ports, in_database).scope is Scope.FULL
    finally:
        client.close()
        app.close()


def test_a_database_failing_after_a_change_still_ends_the_redis_sessions(
    hkpl: App, redis_url: str, prefix: str
) -> None:
    """The database's sessions end in the change's transaction; Redis is told first
    afterwards, so the database failing then neither skips Redis nor undoes the change."""
    other = sign_in(hkpl)
    token = sign_in(hkpl, channel=Channel.APP)
    session = current_session(hkpl.ports, token)
    store = hkpl.ports.sessions
    assert isinstance(store, FallbackSessionStore)
    gone = FallbackSessionStore(store._redis, DatabaseGone(store._sql), RedisHealth("sessions"))
    app = replace(hkpl, ports=replace(hkpl.ports, sessions=gone))
    assert change(app, session, "4567", "Lib#Reader2026", Channel.APP).opened is None
    assert refusal(hkpl, other) == "session.invalid"
    assert current_session(hkpl.ports, token).scope is Scope.FULL
    assert attempt(hkpl, "HKPL0001", "Lib#Reader2026").signed_in


def test_bootstrap_keeps_sessions_in_redis_when_a_redis_url_is_set(
    sqlite_url: str, tmp_path: Path, redis_url: str
) -> None:
    from patronauth.adapters.config import Settings
    from tests.support import test_env

    with_redis = build(
        Settings.from_env(test_env(sqlite_url, tmp_path, PATRONAUTH_REDIS_URL=redis_url))
    )
    without = build(Settings.from_env(test_env(sqlite_url, tmp_path)))
    try:
        assert isinstance(with_redis.ports.sessions, FallbackSessionStore)
        assert isinstance(without.ports.sessions, SqlSessionStore)
    finally:
        with_redis.close()
        without.close()


def test_a_token_never_issued_is_told_from_one_signed_out_in_redis(
    hkpl: App, redis_url: str, prefix: str
) -> None:
    token = sign_in(hkpl)
    value, key_id, mac = token.split(".")
    forged = f"{value}.{key_id}.{mac[:-2]}{'AA' if mac[-2:] != 'AA' else 'BB'}"
    assert refusal(hkpl, forged) == "session.not_issued"
    assert refusal(hkpl, secrets.token_urlsafe(16) + f".{key_id}.{mac}") == "session.not_issued"
    close_session(hkpl.ports, token)
    assert refusal(hkpl, token) == "session.invalid"
    client = Redis.from_url(redis_url)
    client.delete(*client.scan_iter(match=f"{prefix}*"))  # forgotten after its grace period
    client.close()
    assert refusal(hkpl, token) == "session.invalid"  # authentic: signed out, not forged
    assert refusal(hkpl, forged) == "session.not_issued"
