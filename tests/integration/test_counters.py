"""The attempt counter port: memory, SQL (SQLite, PostgreSQL) and Redis behave alike."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from redis import Redis
from sqlalchemy import event

from patronauth.adapters.counters.memory import MemoryAttemptCounter
from patronauth.adapters.counters.redis import RedisAttemptCounter
from patronauth.adapters.counters.sql import SqlAttemptCounter
from patronauth.adapters.storage.engine import make_engine
from patronauth.domain.lockout import Admission, Admitted, Blocked, Full, LockoutRule
from patronauth.services.interfaces import AttemptCounter

RULE = LockoutRule()
T0 = 1_800_000_000.0


@pytest.fixture(
    params=[
        "memory",
        "sqlite",
        pytest.param("postgresql", marks=pytest.mark.postgres),
        pytest.param("redis", marks=pytest.mark.redis),
    ]
)
def counter(request: pytest.FixtureRequest) -> Iterator[AttemptCounter]:
    if request.param == "memory":
        yield MemoryAttemptCounter()
    elif request.param in {"sqlite", "postgresql"}:
        fixture = "sqlite_url" if request.param == "sqlite" else "postgres_url"
        engine = make_engine(request.getfixturevalue(fixture))
        yield SqlAttemptCounter(engine)
        engine.dispose()
    else:
        client = Redis.from_url(request.getfixturevalue("redis_url"))
        yield RedisAttemptCounter(client, prefix=f"test:{uuid.uuid4().hex}:")
        client.close()


@pytest.fixture
def key() -> str:
    return f"21012345A-{uuid.uuid4().hex[:8]}"


def admit(counter: AttemptCounter, now: float, key: str) -> Admission:
    return counter.admit(key, now, RULE)


def test_five_failures_block_the_sixth_attempt_for_a_minute(
    counter: AttemptCounter, key: str
) -> None:
    for i in range(5):
        ticket = admit(counter, T0 + i, key)
        assert isinstance(ticket, Admitted)
        counter.settle(key, ticket.ticket, success=False, now=T0 + i, rule=RULE)
    # The fifth failure (at T0 + 4) started a 60 s block.
    assert admit(counter, T0 + 5, key) == Blocked(59)
    assert counter.blocked_for(key, T0 + 30) == 34
    assert isinstance(admit(counter, T0 + 64.5, key), Admitted)
    assert isinstance(admit(counter, T0 + 5, "OTHER" + key), Admitted)


def test_the_blocks_of_many_keys_are_read_together(counter: AttemptCounter, key: str) -> None:
    """`blocked_for_each` (many status requests at once) says what `blocked_for` says
    of each key, a key never seen included."""
    for i in range(5):
        ticket = admit(counter, T0 + i, key)
        assert isinstance(ticket, Admitted)
        counter.settle(key, ticket.ticket, success=False, now=T0 + i, rule=RULE)
    failed_once = "ONCE" + key
    ticket = admit(counter, T0, failed_once)
    assert isinstance(ticket, Admitted)
    counter.settle(failed_once, ticket.ticket, success=False, now=T0, rule=RULE)
    keys = [key, failed_once, "NEVER" + key]
    together = counter.blocked_for_each(keys, T0 + 30)
    assert together == {key: 34, failed_once: 0, "NEVER" + key: 0}
    assert together == {k: counter.blocked_for(k, T0 + 30) for k in keys}
    assert counter.blocked_for_each([], T0) == {}


def test_the_database_reads_the_counts_of_many_keys_in_one_statement(database_url: str) -> None:
    engine = make_engine(database_url)
    counter = SqlAttemptCounter(engine)
    key = f"21012345A-{uuid.uuid4().hex[:8]}"
    ticket = admit(counter, T0, key)
    assert isinstance(ticket, Admitted)
    sent: list[str] = []

    def seen(_conn: Any, _cursor: Any, sql: str, *_: Any) -> None:
        sent.append(sql)

    event.listen(engine, "before_cursor_execute", seen)
    try:
        together = counter.blocked_for_each([key, "A" + key, "B" + key], T0)
    finally:
        event.remove(engine, "before_cursor_execute", seen)
        engine.dispose()
    assert together == {key: 0, "A" + key: 0, "B" + key: 0}
    assert len([sql for sql in sent if "attempt_counters" in sql]) == 1


def test_successes_give_their_place_back(counter: AttemptCounter, key: str) -> None:
    for i in range(20):
        ticket = admit(counter, T0 + i, key)
        assert isinstance(ticket, Admitted)
        counter.settle(key, ticket.ticket, success=True, now=T0 + i, rule=RULE)
    assert counter.blocked_for(key, T0 + 20) == 0


def test_clear_lifts_a_block(counter: AttemptCounter, key: str) -> None:
    for _ in range(5):
        ticket = admit(counter, T0, key)
        assert isinstance(ticket, Admitted)
        counter.settle(key, ticket.ticket, success=False, now=T0, rule=RULE)
    assert isinstance(admit(counter, T0 + 1, key), Blocked)
    counter.clear(key)
    assert isinstance(admit(counter, T0 + 1, key), Admitted)


def test_fifty_concurrent_admissions_let_exactly_five_through(
    counter: AttemptCounter, key: str
) -> None:
    with ThreadPoolExecutor(max_workers=16) as pool:
        answers = list(pool.map(lambda i: admit(counter, T0 + i / 1000, key), range(50)))
    assert sum(isinstance(a, Admitted) for a in answers) == 5
    assert sum(isinstance(a, Full) for a in answers) == 45  # waiting, not blocked
    assert counter.blocked_for(key, T0 + 1) == 0
