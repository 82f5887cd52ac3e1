"""S3 with many attempts at once on one key: correct attempts are never refused
because others are in flight, while no more wrong guesses than the lockout allows
reach the hasher. The hashing pool is held shut while the attempts arrive, so that
they are all in flight together."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

import pytest

from patronauth.adapters.hash_pool import HashPool
from patronauth.adapters.hashing import Argon2Hasher, Argon2Parameters
from patronauth.bootstrap import App, keyring, with_ports
from patronauth.domain.credentials import Channel, Outcome
from patronauth.domain.terminals import Terminal
from patronauth.services import terminals as term
from tests.support import STAFF, attempt, make_app, register
from tests.support import test_env as deployment_env

T = TypeVar("T")
KIOSK_PASSWORD = "kiosk-Secret-2026"


@pytest.fixture
def pooled(database_url: str, tmp_path: Path) -> Iterator[tuple[App, HashPool]]:
    app = make_app(deployment_env(database_url, tmp_path / "var"))
    pool = HashPool(workers=1, queue=100)
    hasher = Argon2Hasher(keyring(app.settings), Argon2Parameters(1, 1024, 1), pool)
    app = with_ports(app, hasher=hasher)
    register(app, "hkpl", "HKPL0001", phone="9123 4567")  # the default: 4567
    term.add_terminal(
        app.ports, login="kiosk1", institution="hkpl", password=KIOSK_PASSWORD, staff=STAFF
    )
    yield app, pool
    app.close()


def all_at_once(pool: HashPool, count: int, run: Callable[[], T], admitted: int) -> list[T]:
    """`count` calls of `run` at once while the pool's one worker is held, released
    once `admitted` of them wait in its queue (and the others have had time to ask)."""
    release = threading.Event()
    holder = threading.Thread(target=pool.run, args=(release.wait,))
    holder.start()
    deadline = time.monotonic() + 30
    while pool.in_use < 1:
        time.sleep(0.005)
    with ThreadPoolExecutor(max_workers=count) as threads:
        futures: list[Future[T]] = [threads.submit(run) for _ in range(count)]
        try:
            while pool.in_use < 1 + admitted:
                assert time.monotonic() < deadline, f"only {pool.in_use - 1} admitted"
                time.sleep(0.005)
            time.sleep(0.3)  # the others have found every place taken
            assert pool.in_use == 1 + admitted  # and no more reached the hasher
        finally:
            release.set()
            holder.join()
        return [f.result(timeout=60) for f in futures]


def test_twelve_correct_sign_ins_of_one_card_at_once_are_all_let_in(
    pooled: tuple[App, HashPool],
) -> None:
    app, pool = pooled
    outcomes = all_at_once(
        pool, 12, lambda: attempt(app, "HKPL0001", "4567", Channel.SIP2).outcome, admitted=5
    )
    assert outcomes == [Outcome.OK] * 12


def test_fifty_wrong_guesses_at_once_let_exactly_five_reach_the_hasher(
    pooled: tuple[App, HashPool],
) -> None:
    app, pool = pooled
    hasher = app.ports.hasher
    assert isinstance(hasher, Argon2Hasher)
    before = hasher.computations
    outcomes = all_at_once(
        pool, 50, lambda: attempt(app, "HKPL0001", "0000", Channel.SIP2).outcome, admitted=5
    )
    assert hasher.computations - before == 5
    assert (outcomes.count(Outcome.INVALID), outcomes.count(Outcome.BLOCKED)) == (5, 45)
    assert attempt(app, "HKPL0001", "4567", Channel.SIP2).outcome is Outcome.BLOCKED


def test_sixty_kiosks_logging_in_with_one_account_at_once_are_all_let_in(
    pooled: tuple[App, HashPool],
) -> None:
    app, pool = pooled

    def login() -> Terminal | None:
        return term.terminal_login(app.ports, "kiosk1", KIOSK_PASSWORD, source=f"10.0.0.{id(1)}")

    logins = all_at_once(pool, 60, login, admitted=5)
    assert [t.login if t else None for t in logins] == ["kiosk1"] * 60


def test_terminal_unlock_lifts_the_block_of_a_terminal_login(pooled: tuple[App, HashPool]) -> None:
    app, _ = pooled
    for _ in range(5):
        assert term.terminal_login(app.ports, "kiosk1", "wrong-password-00", source="s") is None
    assert term.terminal_login(app.ports, "kiosk1", KIOSK_PASSWORD, source="s") is None
    term.unlock_terminal(app.ports, "kiosk1", staff=STAFF)
    unlocked = term.terminal_login(app.ports, "kiosk1", KIOSK_PASSWORD, source="s")
    assert unlocked is not None
    with app.ports.uow() as uow:
        (latest, unlock, *_) = uow.audit.recent(limit=2)
    assert (unlock.event.action, unlock.event.actor) == ("terminal.unlock", STAFF)
    assert unlock.event.detail == {"login": "kiosk1", "was_blocked_for": "60"}
    assert (latest.event.action, latest.event.outcome) == ("terminal.login", "ok")
