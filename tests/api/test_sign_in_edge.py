"""P1, P2: a sign-in through the API is answered before the site's routing, with the very
bytes the route gives; a blocked identifier is refused before anything else, and its
refusals are audited as one record per block with a count."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import nullcontext
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import anyio.to_thread
import httpx
import pytest
from sqlalchemy import event
from starlette.routing import Router
from starlette.types import Receive, Scope, Send

from patronauth.api import middleware
from patronauth.asgi import create
from patronauth.bootstrap import App
from patronauth.domain.credentials import Channel
from patronauth.domain.errors import StorageUnavailable
from patronauth.domain.sessions import SessionChannel
from patronauth.services.account import account
from patronauth.services.authenticate import Attempt, flush_refusal_counts
from patronauth.services.signin import sign_in
from patronauth.services.staff import audit_trail
from tests.support import clear_of_the_minute_edge, clock_of, make_app, register
from tests.support import test_env as deployment_env

pytestmark = pytest.mark.anyio

SESSIONS = "/api/v1/sessions"
FLOOD = 20
JSON = {"Content-Type": "application/json"}


@pytest.fixture
def limited(database_url: str, tmp_path: Path) -> Iterator[App]:
    """Six attempts a minute from one address: the five that block, and one more. A
    refusal that went through the route would be throttled after that."""
    env = deployment_env(
        database_url, tmp_path / "var", PATRONAUTH_THROTTLE_PER_SOURCE="6 per minute"
    )
    app = make_app(env)
    register(app, "hkpl", "HKPL0001", phone="9123 4567")
    clear_of_the_minute_edge()
    yield app
    app.close()


@pytest.fixture
async def client(limited: App) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create(limited))
    async with httpx.AsyncClient(transport=transport, base_url="http://library.test") as c:
        yield c


def body(identifier: str, secret: str) -> bytes:
    return json.dumps({"identifier": identifier, "secret": secret}).encode()


async def chunked(content: bytes) -> AsyncIterator[bytes]:
    yield content  # no Content-Length: the request goes on to the route as it is


def handovers(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """What is handed over to worker threads from now on (Starlette and FastAPI hand
    over through `anyio.to_thread.run_sync`)."""
    handed: list[object] = []
    run_sync = anyio.to_thread.run_sync

    async def counted(function: object, *args: object, **options: object) -> object:
        handed.append(function)
        return await run_sync(function, *args, **options)  # type: ignore[arg-type]

    monkeypatch.setattr(anyio.to_thread, "run_sync", counted)
    return handed


def counter_reads(app: App, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The identifiers whose block is read from the attempt counter from now on."""
    reads: list[str] = []
    blocked_for = app.ports.counter.blocked_for

    def read(key: str, now: float) -> int:
        reads.append(key)
        return blocked_for(key, now)

    monkeypatch.setattr(app.ports.counter, "blocked_for", read)
    return reads


async def flood_answered_as(
    client: httpx.AsyncClient, expected: httpx.Response, headers: dict[str, str]
) -> None:
    """FLOOD more attempts on the blocked card (typed another way) each get `expected`:
    its status, bytes and headers."""
    for _ in range(FLOOD):
        answer = await client.post(SESSIONS, content=body("hkpl 0001", "4567"), headers=headers)
        assert (answer.status_code, answer.content) == (429, expected.content)
        assert answer.headers == expected.headers


async def test_a_blocked_card_is_answered_before_routing_with_the_routes_bytes(
    limited: App, client: httpx.AsyncClient
) -> None:
    for _ in range(5):
        wrong = await client.post(SESSIONS, json={"identifier": "HKPL0001", "secret": "Wrong#1"})
        assert wrong.status_code == 401
    headers = {"Content-Type": "application/json", "Accept-Language": "zh-Hant"}
    # Without a Content-Length the edge leaves the request to the route.
    routed = await client.post(SESSIONS, content=chunked(body("HKPL0001", "4567")), headers=headers)
    assert routed.status_code == 429
    assert routed.json()["error"] == "too_many_attempts"
    assert routed.json()["retry_after"] == 60
    await flood_answered_as(client, routed, headers)
    # Neither the route nor the edge spent the address's throttle (six a minute) on the
    # block: the five failures are all it has counted, so the sixth attempt is heard.
    clock_of(limited).advance(61)
    after = await client.post(SESSIONS, content=body("HKPL0001", "4567"), headers=headers)
    assert after.status_code == 201
    throttled = await client.post(SESSIONS, content=body("HKPL0001", "4567"), headers=headers)
    assert throttled.status_code == 429
    assert throttled.content != routed.content  # "from here", not "this card"


async def test_a_malformed_or_wrong_channel_body_still_gets_the_routes_answer(
    limited: App, client: httpx.AsyncClient
) -> None:
    for _ in range(5):
        await client.post(SESSIONS, json={"identifier": "HKPL0001", "secret": "Wrong#1"})
    not_json = await client.post(
        SESSIONS, content=b"{", headers={"Content-Type": "application/json"}
    )
    assert not_json.status_code == 400  # the route's answer to a body that is not JSON
    pin = await client.post(
        SESSIONS,
        json={
            "identifier": "HKPL0001",
            "secret": "4567",
            "credential": "pin",
            "institution": "hkpl",
        },
    )
    assert pin.status_code == 422
    assert pin.json()["error"] == "invalid_input"


def test_refusals_of_a_block_are_one_audit_record_with_their_count(limited: App) -> None:
    addresses = iter(f"192.0.2.{n}" for n in range(1, 250))  # under every address's throttle

    def wrong() -> Attempt:
        return Attempt("HKPL0001", "Wrong#1", Channel.APP, source=next(addresses))

    def right() -> Attempt:
        return Attempt("HKPL0001", "4567", Channel.APP, source=next(addresses))

    for _ in range(5):
        assert not sign_in(limited.ports, wrong()).signed_in
    for _ in range(FLOOD):
        assert sign_in(limited.ports, right()).result.outcome.value == "blocked"
    assert flush_refusal_counts(limited.ports) == 1
    blocked = [
        e.event for e in audit_trail(limited.ports, "HKPL0001") if e.event.outcome == "blocked"
    ]
    assert len(blocked) == 1
    assert blocked[0].detail["count"] == str(FLOOD)
    assert flush_refusal_counts(limited.ports) == 0  # nothing new since

    # A later block is a record of its own; the patron still sees both in My Account.
    clock_of(limited).advance(61)
    assert sign_in(limited.ports, right()).signed_in
    for _ in range(5):
        sign_in(limited.ports, wrong())
    for _ in range(3):
        sign_in(limited.ports, right())
    limited.close()  # a closing process writes the counts it still owes
    counts = [
        e.event.detail["count"]
        for e in audit_trail(limited.ports, "HKPL0001")
        if e.event.outcome == "blocked"
    ]
    assert counts == ["3", str(FLOOD)]
    clock_of(limited).advance(3600)  # a second block lasts longer
    signed = sign_in(limited.ports, right(), session=SessionChannel.WEB)
    assert signed.opened is not None
    seen = [e.outcome for e in account(limited.ports, signed.opened.session).recent_sign_ins]
    assert seen.count("blocked") == 2


async def test_a_sign_in_through_the_api_reads_the_block_once(
    limited: App, client: httpx.AsyncClient
) -> None:
    """P1: the block is read once; five transactions in all (block read,
    lookup, admission, outcome with audit and session, settlement), three commits."""
    begun: list[object] = []
    commits: list[object] = []
    hooks = {"begin": begun.append, "commit": commits.append}
    for name, hook in hooks.items():
        event.listen(limited.engine, name, hook)
    try:
        opened = await client.post(SESSIONS, json={"identifier": "HKPL0001", "secret": "4567"})
    finally:
        for name, hook in hooks.items():
            event.remove(limited.engine, name, hook)
    assert opened.status_code == 201
    assert (len(begun), len(commits)) == (5, 3)


async def test_a_sign_in_through_the_api_hands_over_to_a_worker_thread_once(
    limited: App, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """P1: the block's read and the sign-in run in one worker thread; the language and
    the answer's serialisation do not add a hand-over of their own."""
    handed = handovers(monkeypatch)
    opened = await client.post(
        SESSIONS,
        json={"identifier": "HKPL0001", "secret": "4567"},
        headers={"Accept-Language": "zh-Hant"},
    )
    assert opened.status_code == 201
    assert opened.headers["content-type"] == "application/json"
    answer = json.loads(opened.content)
    assert list(answer) == ["token", "must_change", "credential", "expires_at"]
    # The bytes FastAPI's JSONResponse renders for the same answer.
    rendered = json.dumps(answer, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    assert opened.content == rendered.encode()
    assert len(handed) == 1  # was four: the edge's block read, the language, the answer's
    # validation; then two: the edge's block read and the route


async def _block(client: httpx.AsyncClient) -> httpx.Response:
    """Five wrong passwords, then the refusal the counter gives (its first, read)."""
    for _ in range(5):
        wrong = await client.post(SESSIONS, json={"identifier": "HKPL0001", "secret": "Wrong#1"})
        assert wrong.status_code == 401
    first = await client.post(SESSIONS, content=body("HKPL0001", "4567"), headers=JSON)
    assert first.status_code == 429
    return first


async def test_a_block_seen_a_moment_ago_is_answered_from_memory_on_the_event_loop(
    limited: App, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No worker thread, no read of the counter: the same bytes, counted in the block's
    one audit record."""
    first = await _block(client)
    handed = handovers(monkeypatch)
    reads = counter_reads(limited, monkeypatch)
    await flood_answered_as(client, first, JSON)
    assert (handed, reads) == ([], [])
    assert flush_refusal_counts(limited.ports) == 1
    [record] = [
        e.event for e in audit_trail(limited.ports, "HKPL0001") if e.event.outcome == "blocked"
    ]
    assert record.detail["count"] == str(1 + FLOOD)


async def test_memory_answers_a_block_only_a_second_after_the_counter_said_so(
    limited: App, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    await _block(client)
    reads = counter_reads(limited, monkeypatch)
    clock = clock_of(limited)
    clock.advance(1)  # the counter's word is a second old: it is asked again
    again = await client.post(SESSIONS, content=body("HKPL0001", "4567"), headers=JSON)
    assert again.status_code == 429
    assert again.json()["retry_after"] == 59
    assert len(reads) == 1
    clock.advance(58.5)  # half a second of the block left: within its last second
    last = await client.post(SESSIONS, content=body("HKPL0001", "4567"), headers=JSON)
    assert last.status_code == 429
    assert len(reads) == 2  # asked: memory keeps off the block's last second
    clock.advance(0.6)
    after = await client.post(SESSIONS, json={"identifier": "HKPL0001", "secret": "4567"})
    assert after.status_code == 201


async def test_an_unlock_on_this_node_ends_the_answers_from_memory_at_once(
    limited: App, client: httpx.AsyncClient
) -> None:
    from patronauth.services.staff import unlock

    await _block(client)
    again = await client.post(SESSIONS, content=body("HKPL0001", "4567"), headers=JSON)
    assert again.status_code == 429  # from memory
    unlock(limited.ports, "HKPL0001", staff="desk01")
    opened = await client.post(SESSIONS, json={"identifier": "HKPL0001", "secret": "4567"})
    assert opened.status_code == 201


async def test_an_unknown_institution_gets_the_routes_answer_not_a_failure(
    client: httpx.AsyncClient,
) -> None:
    await _block(client)
    unknown = await client.post(
        SESSIONS, json={"identifier": "HKPL0001", "secret": "4567", "institution": "nowhere"}
    )
    assert unknown.status_code == 422
    assert unknown.json()["error"] == "unknown_institution"


def routings(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The paths a router (the site's, or the API's: FastAPI's is a Starlette router)
    is entered for from now on."""
    entered: list[str] = []  # the request's path, as each router sees it
    route = Router.__call__

    async def counted(self: Router, scope: Scope, receive: Receive, send: Send) -> None:
        entered.append(scope["path"])
        await route(self, scope, receive, send)

    monkeypatch.setattr(Router, "__call__", counted)
    return entered


async def test_a_refusal_is_answered_before_the_sites_routing_with_every_header(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The edge wraps the whole site: a refusal enters no router, neither the site's
    nor the API's, and still carries the site's security headers and the API's own."""
    first = await _block(client)  # the counter's word: answered at the edge too
    entered = routings(monkeypatch)
    again = await client.post(SESSIONS, content=body("HKPL0001", "4567"), headers=JSON)
    assert (again.status_code, again.content, again.headers) == (429, first.content, first.headers)
    assert entered == []
    assert again.headers["cache-control"] == "no-store"
    assert again.headers["vary"] == "Accept-Language"
    assert again.headers["x-content-type-options"] == "nosniff"
    # Any other request is routed as before.
    me = await client.get("/api/v1/me")
    assert me.status_code == 401
    assert entered == ["/api/v1/me"] * 2  # the site's router, then the API's


async def test_a_flood_of_one_block_is_rendered_once_per_answer(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same refusal (the same seconds left, the same language) is rendered once and
    sent again as it was: the route's bytes and headers every time, none added twice."""
    first = await _block(client)
    rendered: list[object] = []
    render = middleware.outcome_error

    def counted(*args: Any, **kwargs: Any) -> Any:
        rendered.append(args[0])
        return render(*args, **kwargs)

    monkeypatch.setattr(middleware, "outcome_error", counted)
    await flood_answered_as(client, first, JSON)
    assert rendered == []  # the counter's first refusal was rendered at the edge already
    chinese = {**JSON, "Accept-Language": "zh-Hant"}
    answers = [
        await client.post(SESSIONS, content=body("HKPL0001", "4567"), headers=chinese)
        for _ in range(3)
    ]
    assert {a.content for a in answers} == {answers[0].content} != {first.content}
    assert len(rendered) == 1


async def test_a_sign_in_is_answered_before_the_sites_routing_with_the_routes_bytes(
    limited: App, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A right and a wrong secret at the edge: no router entered, and the status, bytes
    and headers the route gives the same request (left to it without Content-Length)."""
    entered = routings(monkeypatch)
    chinese = {**JSON, "Accept-Language": "zh-Hant"}
    wrong = body("HKPL0001", "Wrong#1")
    edge = await client.post(SESSIONS, content=wrong, headers=chinese)
    assert entered == []
    routed = await client.post(SESSIONS, content=chunked(wrong), headers=chinese)
    assert entered == ["/api/v1/sessions"] * 2  # the site's router, then the API's
    assert (edge.status_code, edge.content) == (routed.status_code, routed.content)
    assert edge.status_code == 401
    assert edge.headers == routed.headers
    right = body("HKPL0001", "4567")
    opened = await client.post(SESSIONS, content=right, headers=JSON)
    assert entered == ["/api/v1/sessions"] * 2
    again = await client.post(SESSIONS, content=chunked(right), headers=JSON)
    assert (opened.status_code, again.status_code) == (201, 201)
    assert list(opened.json()) == list(again.json())
    assert opened.json()["credential"] == again.json()["credential"] == "password"
    assert opened.headers["cache-control"] == "no-store"
    assert opened.headers["x-content-type-options"] == "nosniff"
    same = {"content-type", "cache-control", "vary", "x-content-type-options"}
    assert {k: opened.headers[k] for k in same} == {k: again.headers[k] for k in same}


@pytest.mark.parametrize(
    ("failure", "status", "error"),
    [
        (StorageUnavailable("the counter did not answer"), 503, "service_unavailable"),
        (RuntimeError("a fault"), 500, "internal_error"),
    ],
)
async def test_a_failure_at_the_edge_is_answered_in_the_apis_shape(
    limited: App,
    monkeypatch: pytest.MonkeyPatch,
    failure: Exception,
    status: int,
    error: str,
) -> None:
    """What the route's handlers answer: an outage 503 with Retry-After, a fault 500
    (raised on after the answer, for the server's log), both in the error shape."""

    def failing(key: str, now: float) -> int:
        raise failure

    monkeypatch.setattr(limited.ports.counter, "blocked_for", failing)
    transport = httpx.ASGITransport(app=create(limited), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://library.test") as c:
        edge = await c.post(SESSIONS, content=body("HKPL0001", "4567"), headers=JSON)
        routed = await c.post(SESSIONS, content=chunked(body("HKPL0001", "4567")), headers=JSON)
    assert (edge.status_code, edge.content) == (routed.status_code, routed.content)
    assert edge.status_code == status
    assert edge.json()["error"] == error
    assert edge.headers.get("retry-after") == routed.headers.get("retry-after")
    assert ("retry-after" in edge.headers) == (status == 503)
    assert edge.headers["x-content-type-options"] == "nosniff"
    with pytest.raises(RuntimeError) if status == 500 else nullcontext():
        transport = httpx.ASGITransport(app=create(limited))
        async with httpx.AsyncClient(transport=transport, base_url="http://library.test") as c:
            await c.post(SESSIONS, content=body("HKPL0001", "4567"), headers=JSON)


@pytest.fixture
def paced_app(database_url: str, tmp_path: Path) -> Iterator[App]:
    """Refusals without a hash paced at twenty a second; eight attempts a minute from
    one address."""
    env = deployment_env(
        database_url,
        tmp_path / "var",
        PATRONAUTH_REFUSALS_PER_SECOND="20",
        PATRONAUTH_THROTTLE_PER_SOURCE="8 per minute",
    )
    app = make_app(env)
    register(app, "hkpl", "HKPL0001", phone="9123 4567")
    register(app, "hkpl", "HKPL0002", phone="9765 4321")
    clear_of_the_minute_edge()
    yield app
    app.close()


async def test_refusals_without_a_hash_wait_their_turn_and_sign_ins_do_not(
    paced_app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    """P2: a flood of refusals of a blocked card is answered at the pace, each beyond it
    after a wait on the event loop; wrong and right passwords are answered at once."""
    waits: list[float] = []

    async def wait(edge: object, now: float, seconds: float) -> None:
        waits.append(seconds)  # not slept: the pace keeps its own turns

    monkeypatch.setattr(middleware.SignInEdge, "_wait", wait)
    # The edge's clock stands still, so that the pace's turns stay ahead of it however
    # long the requests take: on a slow machine the sign-ins below once outlasted the
    # flood's last turn, and the throttle's refusal then had its turn at once.
    still = time.monotonic()
    monkeypatch.setattr(middleware, "time", SimpleNamespace(monotonic=lambda: still))
    transport = httpx.ASGITransport(app=create(paced_app))
    async with httpx.AsyncClient(transport=transport, base_url="http://library.test") as client:
        first = await _block(client)  # five wrong passwords, then the block's first refusal
        assert waits == []  # the wrong passwords were not paced; the refusal was in pace
        await flood_answered_as(client, first, JSON)
        # Twenty a second: the flood's last turn is a second after the first refusal.
        assert len(waits) >= FLOOD // 2
        assert waits == sorted(waits)
        assert 0.3 <= waits[-1] <= 2.0
        paced_so_far = len(waits)
        wrong = await client.post(SESSIONS, json={"identifier": "HKPL0002", "secret": "No#1"})
        right = await client.post(SESSIONS, json={"identifier": "HKPL0002", "secret": "4321"})
        assert (wrong.status_code, right.status_code) == (401, 201)
        assert len(waits) == paced_so_far
        # Once the address has made its eight attempts of the minute, the throttle refuses
        # the next without a hash, and that refusal is paced too.
        for _ in range(8):
            answer = await client.post(SESSIONS, json={"identifier": "HKPL0002", "secret": "4321"})
            if answer.status_code != 201:
                break
        assert answer.status_code == 429
        assert answer.json()["message"].startswith("Too many attempts from here.")
        assert len(waits) == paced_so_far + 1


async def test_refusals_answered_at_one_turn_wait_together_on_one_timer() -> None:
    async def nowhere(scope: Scope, receive: Receive, send: Send) -> None:
        raise AssertionError("not reached")

    edge = middleware.SignInEdge(
        nowhere, path=SESSIONS, sign_in=sign_in_nowhere, source=lambda scope: "", profiles={}
    )
    now = time.monotonic()
    waiting = [asyncio.ensure_future(edge._wait(now, 0.05)) for _ in range(10)]
    later = asyncio.ensure_future(edge._wait(now, 0.1))
    await asyncio.sleep(0)
    assert len(edge._turns) == 2  # a timer for each turn, not for each refusal
    await asyncio.gather(*waiting)
    assert time.monotonic() - now >= 0.045  # they did wait for their turn
    assert not later.done()
    await later
    assert edge._turns == {}


def sign_in_nowhere(attempt: Attempt) -> Any:
    raise AssertionError("not reached")
