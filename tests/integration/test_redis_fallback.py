"""SPEC 5, 7: with Redis unreachable, attempts are counted in the database, still
atomically; the outage is logged once and shown in the metrics; Redis is used again
once it answers, and what the database counted meanwhile still counts there."""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, func, select

from patronauth.adapters import metrics
from patronauth.adapters.counters.redis import RedisAttemptCounter
from patronauth.adapters.counters.resilient import ResilientAttemptCounter
from patronauth.adapters.counters.sql import SqlAttemptCounter
from patronauth.adapters.redis_health import RedisHealth, client
from patronauth.adapters.storage.engine import make_engine
from patronauth.adapters.storage.tables import attempt_counters
from patronauth.adapters.throttle import LimitsThrottle
from patronauth.domain.lockout import Admitted, Blocked, LockoutRule
from tests.servers import PrivateRedis, free_port
from tests.support import clear_of_the_minute_edge

RULE = LockoutRule()
NOW = 1_800_000_000.0


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    built = make_engine(database_url)
    yield built
    built.dispose()


def rows(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(attempt_counters)).scalar_one())


def fail(counter: ResilientAttemptCounter | RedisAttemptCounter, key: str, at: float) -> None:
    admission = counter.admit(key, at, RULE)
    assert isinstance(admission, Admitted), admission
    counter.settle(key, admission.ticket, success=False, now=at, rule=RULE)


def resilient(
    url: str, engine: Engine, clock: Clock, prefix: str
) -> tuple[ResilientAttemptCounter, RedisHealth]:
    health = RedisHealth("counter", retry_seconds=5, clock=clock)
    redis = RedisAttemptCounter(client(url, timeout_seconds=0.5), prefix=prefix)
    return ResilientAttemptCounter(redis, SqlAttemptCounter(engine), health), health


def test_with_redis_unreachable_the_database_counts_and_blocks(
    engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    counter, health = resilient(f"redis://127.0.0.1:{free_port()}/0", engine, Clock(), "t:")
    outages = metrics.sample("patronauth_redis_outages_total", {"component": "counter"})
    errors = metrics.sample("patronauth_redis_errors_total", {"component": "counter"})
    with caplog.at_level(logging.WARNING, logger="patronauth.redis"):
        for second in range(5):
            fail(counter, "hkpl0001", NOW + second)
        blocked = counter.admit("hkpl0001", NOW + 6, RULE)
    assert isinstance(blocked, Blocked)
    assert counter.blocked_for("hkpl0001", NOW + 6) == blocked.retry_after
    together = counter.blocked_for_each(["hkpl0001", "hkpl0002"], NOW + 6)
    assert together == {"hkpl0001": blocked.retry_after, "hkpl0002": 0}
    assert rows(engine) == 1  # the count lives in the database's row
    assert health.degraded
    assert metrics.sample("patronauth_redis_fallback_active", {"component": "counter"}) == 1
    assert metrics.sample("patronauth_redis_outages_total", {"component": "counter"}) == outages + 1
    # Tried once, then not again within the back-off: one error, not one per attempt.
    assert metrics.sample("patronauth_redis_errors_total", {"component": "counter"}) == errors + 1
    downs = [r for r in caplog.records if r.getMessage().startswith("Redis unreachable")]
    assert len(downs) == 1  # one warning for the outage, not one per attempt
    counter.clear("hkpl0001")
    assert isinstance(counter.admit("hkpl0001", NOW + 7, RULE), Admitted)


def test_parallel_attempts_in_the_fallback_let_no_more_than_the_limit_through(
    engine: Engine,
) -> None:
    counter, _ = resilient(f"redis://127.0.0.1:{free_port()}/0", engine, Clock(), "t:")
    admitted: list[float] = []
    lock = threading.Lock()

    def attempt() -> None:
        admission = counter.admit("hkpl0002", NOW, RULE)
        if isinstance(admission, Admitted):
            with lock:
                admitted.append(admission.ticket)

    threads = [threading.Thread(target=attempt) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(admitted) == RULE.max_failures  # atomic in the database too


@pytest.mark.redis
def test_redis_that_goes_away_and_comes_back_keeps_the_database_counts(
    engine: Engine, private_redis: PrivateRedis, caplog: pytest.LogCaptureFixture
) -> None:
    clock = Clock()
    counter, health = resilient(private_redis.url, engine, clock, "t:")
    fail(counter, "hkpl0003", NOW)
    fail(counter, "hkpl0003", NOW + 1)
    assert rows(engine) == 0
    assert not health.degraded

    private_redis.kill()  # and everything Redis held is lost
    with caplog.at_level(logging.WARNING, logger="patronauth.redis"):
        fail(counter, "hkpl0003", NOW + 2)
        fail(counter, "hkpl0003", NOW + 3)
        assert health.degraded
        assert rows(engine) == 1

        private_redis.start()
        # Another node counted two failures in Redis as soon as it was back.
        other = RedisAttemptCounter(client(private_redis.url, timeout_seconds=0.5), prefix="t:")
        fail(other, "hkpl0003", NOW + 4)
        fail(other, "hkpl0003", NOW + 5)
        # Within the back-off the database still counts; then Redis is tried again.
        assert not health.should_try()
        clock.now += 6
        fail(counter, "hkpl0003", NOW + 6)

    assert not health.degraded
    assert metrics.sample("patronauth_redis_fallback_active", {"component": "counter"}) == 0
    assert rows(engine) == 0  # the database's counts moved into Redis
    # 2 from the database + 2 from the other node + the last one: the window is full.
    blocked = other.admit("hkpl0003", NOW + 7, RULE)
    assert isinstance(blocked, Blocked)
    messages = [r.getMessage() for r in caplog.records]
    assert sum(m.startswith("Redis unreachable") for m in messages) == 1
    assert sum(m.startswith("Redis answers again") for m in messages) == 1


@pytest.mark.redis
def test_an_attempt_admitted_in_the_database_is_settled_once_when_redis_returns(
    engine: Engine, private_redis: PrivateRedis
) -> None:
    clock = Clock()
    counter, health = resilient(private_redis.url, engine, clock, "t:")
    private_redis.kill()
    tickets = []
    for second in range(4):
        admission = counter.admit("hkpl0004", NOW + second, RULE)
        assert isinstance(admission, Admitted)
        tickets.append(admission.ticket)
    private_redis.start()
    clock.now += 6
    # The first call after the back-off moves the 4 attempts in flight into Redis.
    assert counter.blocked_for("hkpl0004", NOW + 4) == 0
    assert not health.degraded
    assert rows(engine) == 0
    for ticket in tickets[:3]:
        counter.settle("hkpl0004", ticket, success=False, now=NOW + 5, rule=RULE)
    counter.settle("hkpl0004", tickets[3], success=True, now=NOW + 5, rule=RULE)
    assert rows(engine) == 0
    # 3 failures, no attempt left in flight: one more failure is allowed, not a block.
    fail(counter, "hkpl0004", NOW + 6)
    assert isinstance(counter.admit("hkpl0004", NOW + 7, RULE), Admitted)


def test_throttles_fall_back_to_memory_and_still_limit(caplog: pytest.LogCaptureFixture) -> None:
    from limits.storage import RedisStorage

    url = f"redis://127.0.0.1:{free_port()}/0"
    storage = RedisStorage(url, connection_pool=client(url, timeout_seconds=0.5).connection_pool)
    health = RedisHealth("throttle", clock=Clock())
    throttle = LimitsThrottle(
        storage, per_source="3 per minute", overall="100 per second", health=health
    )
    source = uuid.uuid4().hex
    clear_of_the_minute_edge()
    with caplog.at_level(logging.WARNING, logger="patronauth.redis"):
        waits = [throttle.hit("attempt", source) for _ in range(4)]
    assert waits[:3] == [0, 0, 0]
    assert waits[3] >= 1
    assert health.degraded
    assert len([r for r in caplog.records if r.name == "patronauth.redis"]) == 1


@pytest.mark.redis
def test_throttles_use_redis_again_once_it_answers(private_redis: PrivateRedis) -> None:
    from limits.storage import RedisStorage

    url = private_redis.url
    storage = RedisStorage(url, connection_pool=client(url, timeout_seconds=0.5).connection_pool)
    clock = Clock()
    health = RedisHealth("throttle", retry_seconds=5, clock=clock)
    throttle = LimitsThrottle(
        storage, per_source="2 per minute", overall="100 per second", health=health
    )
    assert throttle.hit("attempt", "10.0.0.1") == 0  # counted in Redis
    private_redis.kill()
    assert throttle.hit("attempt", "10.0.0.2") == 0  # counted in memory
    assert health.degraded
    private_redis.start()
    assert throttle.hit("attempt", "10.0.0.3") == 0  # still memory: inside the back-off
    assert health.degraded
    clock.now += 6
    clear_of_the_minute_edge()
    assert throttle.hit("attempt", "10.0.0.4") == 0
    assert not health.degraded
    assert throttle.hit("attempt", "10.0.0.4") == 0
    assert throttle.hit("attempt", "10.0.0.4") >= 1  # the third in a minute
    restarted = client(url, timeout_seconds=0.5)
    assert restarted.keys("LIMITS*")  # Redis came back empty: these hits went there
    restarted.close()
