"""The Redis attempt counter's scripts: the domain's decisions exactly, atomic under
concurrency, and loaded again when Redis has forgotten them."""

from __future__ import annotations

import random
import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from redis import Redis

from patronauth.adapters.counters import decode
from patronauth.adapters.counters.memory import MemoryAttemptCounter
from patronauth.adapters.counters.redis import RedisAttemptCounter
from patronauth.domain.lockout import Admitted, Blocked, Full, LockoutRule

pytestmark = pytest.mark.redis

RULE = LockoutRule()
T0 = 1_800_000_000.0


@pytest.fixture
def client(redis_url: str) -> Iterator[Redis]:
    redis = Redis.from_url(redis_url)
    yield redis
    redis.close()


@pytest.fixture
def prefix() -> str:
    return f"test:{uuid.uuid4().hex}:"


@pytest.fixture
def counter(client: Redis, prefix: str) -> RedisAttemptCounter:
    return RedisAttemptCounter(client, prefix=prefix)


RULES = [
    RULE,
    LockoutRule(max_failures=2, block_seconds=30.0),
    LockoutRule(
        max_failures=3,
        window_seconds=10.0,
        block_seconds=5.0,
        block_max_seconds=20.0,
        escalation_seconds=100.0,
    ),
    LockoutRule(
        max_failures=1,
        window_seconds=2.5,
        block_seconds=1.5,
        block_max_seconds=4.0,
        escalation_seconds=30.0,
    ),
]


@pytest.mark.parametrize("seed", range(8))
def test_every_answer_and_state_is_the_domains(
    counter: RedisAttemptCounter, client: Redis, prefix: str, seed: int
) -> None:
    # The memory store runs the domain's own functions: the scripts must agree with it
    # on every answer and every stored state, over admissions, settlements, rules made
    # stricter or looser, times landing exactly on a window's edge (even seeds: steps
    # exact in binary) and fractional times (odd seeds).
    chance = random.Random(seed)
    memory = MemoryAttemptCounter()
    key = f"K{seed}"
    steps = [0.0, 0.25, 0.5, 1.0, 1.5, 2.5] * 4 + [5.0, 10.0, 30.0, 60.0, 100.0, 900.0]
    now = T0
    if seed % 2:
        steps += [0.001, 0.37, 3.3, 12.7]
        now += chance.random()
    rule = RULE
    tickets: list[float] = []
    for _step in range(400):
        now += chance.choice(steps)
        if chance.random() < 0.1:
            rule = RULES[chance.randrange(len(RULES))]
        if tickets and chance.random() < 0.5:
            ticket = tickets.pop(chance.randrange(len(tickets)))
            success = chance.random() < 0.3
            memory.settle(key, ticket, success=success, now=now, rule=rule)
            counter.settle(key, ticket, success=success, now=now, rule=rule)
        else:
            expected = memory.admit(key, now, rule)
            assert counter.admit(key, now, rule) == expected
            if isinstance(expected, Admitted):
                assert expected.ticket == now
                tickets.append(expected.ticket)
        assert decode(client.get(prefix + key)) == memory._read(key)
        assert counter.blocked_for(key, now) == memory.blocked_for(key, now)


def test_the_fifth_failure_blocks_and_the_blocks_double(counter: RedisAttemptCounter) -> None:
    at = T0
    for block in (60, 120, 240):
        for _ in range(5):
            ticket = counter.admit("K", at, RULE)
            assert isinstance(ticket, Admitted)
            counter.settle("K", ticket.ticket, success=False, now=at, rule=RULE)
            at += 0.25
        assert counter.admit("K", at, RULE) == Blocked(block)  # more than five: blocked
        at += block


def test_many_concurrent_attempts_never_hold_more_places_than_the_limit(
    counter: RedisAttemptCounter,
) -> None:
    # 32 callers, each admitting and settling (successes) as fast as it can: at no
    # moment are more than five attempts admitted and not yet settled, and none fails.
    lock = threading.Lock()
    in_flight, highest, admitted = 0, 0, 0

    def caller(number: int) -> None:
        nonlocal in_flight, highest, admitted
        for round_ in range(20):
            now = T0 + round_ / 100 + number / 10_000
            answer = counter.admit("K", now, RULE)
            if isinstance(answer, Full):
                continue
            assert isinstance(answer, Admitted)
            with lock:
                in_flight += 1
                admitted += 1
                highest = max(highest, in_flight)
            assert counter.blocked_for("K", now) == 0  # a round trip while holding it
            with lock:
                in_flight -= 1
            counter.settle("K", answer.ticket, success=True, now=now, rule=RULE)

    # A caller counts its place after Redis gave it and stops before giving it back:
    # `in_flight` never exceeds the places Redis holds.
    with ThreadPoolExecutor(max_workers=32) as pool:
        list(pool.map(caller, range(32)))
    assert 0 < highest <= 5
    assert admitted >= 5
    assert counter.blocked_for("K", T0 + 1) == 0
    assert decode(counter._redis.get(counter._prefix + "K")).pending == ()


def test_concurrent_failures_block_after_exactly_five(counter: RedisAttemptCounter) -> None:
    # 64 callers with a wrong secret each, all at once: exactly five are admitted and
    # fail, the fifth failure starts the block, every other caller meets it.
    answers: list[object] = []
    lock = threading.Lock()

    def caller(number: int) -> None:
        now = T0 + number / 1000
        while True:
            answer = counter.admit("K", now, RULE)
            if not isinstance(answer, Full):
                break
        if isinstance(answer, Admitted):
            counter.settle("K", answer.ticket, success=False, now=now, rule=RULE)
        with lock:
            answers.append(answer)

    with ThreadPoolExecutor(max_workers=32) as pool:
        list(pool.map(caller, range(64)))
    assert sum(isinstance(a, Admitted) for a in answers) == 5
    assert sum(isinstance(a, Blocked) for a in answers) == 59
    assert counter.blocked_for("K", T0 + 1) > 0


def test_the_scripts_are_loaded_again_after_redis_forgets_them(
    counter: RedisAttemptCounter, client: Redis
) -> None:
    for i in range(4):
        ticket = counter.admit("K", T0 + i, RULE)
        assert isinstance(ticket, Admitted)
        client.script_flush()  # as after a restart of Redis
        counter.settle("K", ticket.ticket, success=False, now=T0 + i, rule=RULE)
    client.script_flush()
    ticket = counter.admit("K", T0 + 5, RULE)
    assert isinstance(ticket, Admitted)
    client.script_flush()
    counter.settle("K", ticket.ticket, success=False, now=T0 + 5, rule=RULE)
    assert client.script_exists(counter._settle.sha) == [True]
    assert counter.admit("K", T0 + 6, RULE) == Blocked(59)
