"""Bounded hashing: at most `workers` argon2 computations at once and `queue` waiting;
beyond that the work is refused at once with service.busy (API 503 + Retry-After, a
web page saying so), the attempt is not counted, and a blocked identifier is refused
before it ever reaches the pool."""

from __future__ import annotations

import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from patronauth.adapters import metrics
from patronauth.adapters.hash_pool import HashPool
from patronauth.adapters.hashing import Argon2Hasher, Argon2Parameters
from patronauth.asgi import create
from patronauth.bootstrap import App, keyring, with_ports
from patronauth.domain.credentials import Channel, Outcome
from patronauth.domain.errors import Busy
from patronauth.services.credentials import ChangeRequest, change_secret
from tests.support import attempt, make_app, register
from tests.support import test_env as deployment_env

pytestmark = pytest.mark.anyio

CHOSEN = "Lib#Reader2026"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@contextmanager
def occupied(pool: HashPool) -> Iterator[None]:
    """Every place of the pool taken by work that waits for the test to let it go."""
    release = threading.Event()
    places = pool.workers + pool.queue
    threads = [threading.Thread(target=pool.run, args=(release.wait,)) for _ in range(places)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 30
    while pool.in_use < places:
        assert time.monotonic() < deadline, "the pool was never filled"
        time.sleep(0.01)
    try:
        yield
    finally:
        release.set()
        for thread in threads:
            thread.join()


def test_a_full_pool_refuses_at_once_and_counts_the_refusal() -> None:
    pool = HashPool(workers=1, queue=1)
    refused = metrics.sample("patronauth_hash_busy_total")
    with occupied(pool):
        assert metrics.sample("patronauth_hash_queue_depth") >= 2
        with pytest.raises(Busy) as caught:
            pool.run(lambda: "never")
    assert caught.value.code == "service.busy"
    assert metrics.sample("patronauth_hash_busy_total") == refused + 1
    assert pool.run(lambda: "done") == "done"  # the places are free again
    assert pool.in_use == 0


@pytest.fixture
def pooled(database_url: str, tmp_path: Path) -> Iterator[tuple[App, HashPool]]:
    app = make_app(deployment_env(database_url, tmp_path / "var"))
    pool = HashPool(workers=1, queue=0)
    hasher = Argon2Hasher(keyring(app.settings), Argon2Parameters(1, 1024, 1), pool)
    app = with_ports(app, hasher=hasher)
    register(app, "hkpl", "HKPL0001", phone="9123 4567")  # the default PIN: 4567
    yield app, pool
    app.close()


@pytest.fixture
async def client(pooled: tuple[App, HashPool]) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create(pooled[0]))
    async with httpx.AsyncClient(transport=transport, base_url="https://library.test") as c:
        yield c


async def test_the_api_answers_503_service_busy_and_the_attempt_is_not_counted(
    pooled: tuple[App, HashPool], client: httpx.AsyncClient
) -> None:
    app, pool = pooled
    # A password of their own: argon2 must judge a guess, and a full pool lets it judge
    # none. (A default is judged by its keyed digest alone: that guess counts, busy or
    # not; tests/integration/test_reset_piles.py.)
    change_secret(app.ports, ChangeRequest("HKPL0001", "4567", CHOSEN, CHOSEN, Channel.WEB))
    wrong = {"identifier": "HKPL0001", "secret": "Not#Theirs2026"}
    with occupied(pool):
        answers = [await client.post("/api/v1/sessions", json=wrong) for _ in range(6)]
        chinese = await client.post(
            "/api/v1/sessions", json=wrong, headers={"Accept-Language": "zh-Hant"}
        )
    for answer in answers:
        assert answer.status_code == 503
        assert answer.json()["error"] == "service_busy"
        assert answer.headers["Retry-After"] == "1"
    assert answers[0].json()["message"].startswith("The service is very busy just now.")
    assert chinese.json()["message"] != answers[0].json()["message"]
    # Six refusals, none of them counted: the right password still signs in.
    signed_in = await client.post(
        "/api/v1/sessions", json={"identifier": "HKPL0001", "secret": CHOSEN}
    )
    assert signed_in.status_code == 201, signed_in.text
    assert app.ports.counter.blocked_for("hkpl0001", 0) == 0


async def test_a_blocked_identifier_is_refused_before_the_pool(
    pooled: tuple[App, HashPool], client: httpx.AsyncClient
) -> None:
    app, pool = pooled
    for _ in range(5):
        assert attempt(app, "HKPL0001", "0000").outcome is Outcome.INVALID
    with occupied(pool):  # any computation now would be refused with service.busy
        blocked = await client.post(
            "/api/v1/sessions", json={"identifier": "HKPL0001", "secret": "4567"}
        )
        outcomes = {attempt(app, " hkpl0001 ", "4567").outcome for _ in range(20)}
        with pytest.raises(Busy):  # an identifier that is not blocked needs the pool
            attempt(app, "NOBODY01", "0000")
    assert blocked.status_code == 429
    assert blocked.json()["error"] == "too_many_attempts"
    assert outcomes == {Outcome.BLOCKED}


async def test_the_sign_in_page_says_the_service_is_busy(
    pooled: tuple[App, HashPool], client: httpx.AsyncClient
) -> None:
    _, pool = pooled
    form = await client.get("/hkpl/sign-in")
    token = form.text.split('name="csrftoken" value="', 1)[1].split('"', 1)[0]
    with occupied(pool):
        page = await client.post(
            "/hkpl/sign-in",
            data={"identifier": "HKPL0001", "secret": "4567", "csrftoken": token},
            headers={"Accept-Language": "zh-Hant"},
        )
    assert page.status_code == 503
    assert page.headers["Retry-After"] == "1"
    assert "<h1>" in page.text
    assert "The service is very busy" not in page.text  # in Chinese, as asked
