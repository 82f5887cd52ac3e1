"""The e-resource proxy's external check (EZproxy `::External`), in process through the
whole ASGI application: `+VALID` and the group, one refusal for an unknown card and a
wrong secret, the lockout shared with every channel, expired and blocked told apart,
and nothing for a caller that is not the registered proxy."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from patronauth.asgi import create
from patronauth.bootstrap import App
from patronauth.domain.credentials import Channel, CredentialKind
from patronauth.domain.identifiers import lockout_key
from patronauth.domain.patrons import PatronStatus
from patronauth.domain.signon import SignOnProtocol
from patronauth.services.credentials import ChangeRequest, change_secret
from patronauth.services.signon import add_client
from tests.support import STAFF, attempt, clock_of, register

pytestmark = pytest.mark.anyio
PASSWORD = "Lantern-2026-Ok!"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def proxy(app: App) -> tuple[str, str]:
    register(app, "hkpl", "HKPL0001", name="Chan Tai Man", phone="9123 4567")
    register(app, "hkpl", "HKPL0002", name="Lee Siu Ming", phone="9123 4568")
    for barcode, default in (("HKPL0001", "4567"), ("HKPL0002", "4568")):
        _choose(app, barcode, default)
    added = add_client(
        app.ports,
        name="EZproxy",
        protocol=SignOnProtocol.PROXY,
        institution="hkpl",
        allow_from=("127.0.0.0/8",),
        staff=STAFF,
    )
    assert added.secret is not None
    return added.client.client_id, added.secret


def _choose(app: App, barcode: str, default: str) -> None:
    change_secret(
        app.ports,
        ChangeRequest(barcode, default, PASSWORD, PASSWORD, Channel.WEB, CredentialKind.PASSWORD),
    )


@pytest.fixture
async def http(app: App) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create(app), client=("127.0.0.1", 5000))
    async with httpx.AsyncClient(transport=transport, base_url="http://library.test") as c:
        yield c


async def _check(
    http: httpx.AsyncClient, proxy: tuple[str, str], user: str, secret: str, **extra: str
) -> httpx.Response:
    client_id, key = proxy
    fields = {"client": client_id, "key": key, "user": user, "pass": secret, **extra}
    return await http.post("/proxy/check", data=fields)


async def test_a_good_card_and_secret_are_valid_with_the_category_as_group(
    app: App, http: httpx.AsyncClient, proxy: tuple[str, str]
) -> None:
    answer = await _check(http, proxy, "hkpl0001", PASSWORD)
    assert answer.status_code == 200, answer.text
    assert answer.text == "+VALID\ngroup=reader\n"
    events = [e for e in _audit(app) if e.action == "sign_on"]
    assert [(e.channel, e.detail["service"]) for e in events] == [("proxy", "EZproxy")]
    assert PASSWORD not in repr(_audit(app))


async def test_unknown_card_and_wrong_secret_get_the_same_refusal(
    http: httpx.AsyncClient, proxy: tuple[str, str]
) -> None:
    unknown = await _check(http, proxy, "HKPL9999", PASSWORD)
    wrong = await _check(http, proxy, "HKPL0001", "Wrong-2026-Pass!")
    assert (unknown.status_code, unknown.content) == (wrong.status_code, wrong.content)
    assert wrong.content == b"-INVALID\n"
    assert b"+VALID" not in wrong.content


async def test_the_sixth_attempt_in_a_minute_is_blocked_even_with_the_right_secret(
    app: App, http: httpx.AsyncClient, proxy: tuple[str, str]
) -> None:
    # Two failures on the web and three at the proxy add up on one card.
    for _ in range(2):
        assert attempt(app, "HKPL0002", "Wrong-2026-Pass!", Channel.WEB).outcome.value == "invalid"
    for _ in range(3):
        assert (await _check(http, proxy, "HKPL0002", "Wrong-2026-Pass!")).text == "-INVALID\n"
    blocked = await _check(http, proxy, "HKPL0002", PASSWORD)
    assert blocked.status_code == 429
    assert blocked.text.startswith("-BLOCKED retry_after=")
    assert int(blocked.headers["retry-after"]) > 0
    clock_of(app).advance(120)
    assert (await _check(http, proxy, "HKPL0002", PASSWORD)).text.startswith("+VALID")


async def test_expired_and_barred_patrons_are_told_apart(
    app: App, http: httpx.AsyncClient, proxy: tuple[str, str]
) -> None:
    with app.ports.uow() as uow:
        [(patron, _)] = uow.patrons.find(lockout_key("HKPL0001"))
        uow.patrons.set_status(patron.id, PatronStatus.EXPIRED)
        [(other, _)] = uow.patrons.find(lockout_key("HKPL0002"))
        uow.patrons.set_status(other.id, PatronStatus.BARRED)
        uow.commit()
    assert (await _check(http, proxy, "HKPL0001", PASSWORD)).text == "-EXPIRED\n"
    assert (await _check(http, proxy, "HKPL0002", PASSWORD)).text == "-BARRED\n"


async def test_a_default_secret_is_not_enough_for_the_proxy(
    app: App, http: httpx.AsyncClient, proxy: tuple[str, str]
) -> None:
    register(app, "hkpl", "HKPL0003", name="Wong", phone="9123 4569")
    assert (await _check(http, proxy, "HKPL0003", "4569")).text == "-CHANGE\n"


async def test_callers_that_are_not_the_proxy_are_refused_without_an_attempt(
    app: App, proxy: tuple[str, str]
) -> None:
    client_id, key = proxy
    good = {"client": client_id, "key": key, "user": "HKPL0001", "pass": PASSWORD}
    elsewhere = httpx.ASGITransport(app=create(app), client=("192.0.2.7", 5000))
    async with httpx.AsyncClient(transport=elsewhere, base_url="http://library.test") as far:
        answer = await far.post("/proxy/check", data=good)
        assert (answer.status_code, answer.text) == (403, "-NOT-ALLOWED\n")
    here = httpx.ASGITransport(app=create(app), client=("127.0.0.1", 5000))
    async with httpx.AsyncClient(transport=here, base_url="http://library.test") as near:
        for fields in (
            {**good, "key": ""},
            {**good, "key": "not-the-key"},
            {k: v for k, v in good.items() if k != "key"},
            {**good, "client": "unknown-client-id"},
        ):
            answer = await near.post("/proxy/check", data=fields)
            assert (answer.status_code, answer.text) == (403, "-NOT-ALLOWED\n")
        assert (await near.post("/proxy/check", content=b"x" * 20000)).status_code == 415
        big = await near.post(
            "/proxy/check",
            content=b"user=" + b"1" * 20000,
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
        assert big.status_code == 413
        bad = await near.post(
            "/proxy/check",
            content=b"user=%ff%fe",
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
        assert bad.status_code == 400
    assert [e for e in _audit(app) if e.action == "sign_in"] == []


def _audit(app: App) -> list:  # type: ignore[type-arg]
    with app.ports.uow() as uow:
        return [s.event for s in uow.audit.recent(limit=1000)]
