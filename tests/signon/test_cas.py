"""CAS 3.0 in process, with the clock in hand: a ticket validates once, for its own
service, within 10 s; the XML carries the patron's attributes (read by the python-cas
client's own parser); proxy tickets are refused; unknown services get no redirect."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from cas import CASClientV3

from patronauth.asgi import create
from patronauth.bootstrap import App, ensure_signing_keys
from patronauth.domain.credentials import Channel, CredentialKind
from patronauth.domain.identifiers import lockout_key
from patronauth.domain.sessions import SessionChannel
from patronauth.domain.signon import Client, SignOnProtocol
from patronauth.services.authenticate import Attempt
from patronauth.services.credentials import ChangeRequest, change_secret
from patronauth.services.signin import sign_in
from patronauth.services.signon import add_client, issue_ticket
from tests.support import STAFF, clock_of, register

pytestmark = pytest.mark.anyio
SERVICE = "https://primo.example.org/cas/callback"
OTHER = "https://forms.example.org/cas"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def primo(app: App) -> Client:
    assert ensure_signing_keys(app.settings)
    register(
        app, "hkpl", "HKPL0001", name="Chan Tai Man", phone="9123 4567", email="chan@example.org"
    )
    for name, url in (("Primo", SERVICE), ("E-forms", OTHER)):
        added = add_client(
            app.ports,
            name=name,
            protocol=SignOnProtocol.CAS,
            institution="hkpl",
            redirect_uri=(url,),
            staff=STAFF,
        )
    assert added.secret is None
    return next(c for c in _clients(app) if c.name == "Primo")


def _clients(app: App) -> list[Client]:
    with app.ports.uow() as uow:
        return uow.sign_on.clients()


def _patron_id(app: App) -> int:
    with app.ports.uow() as uow:
        [(patron, _)] = uow.patrons.find(lockout_key("HKPL0001"))
    return patron.id


def _ticket(app: App, client: Client, *, renewed: bool = False) -> str:
    return issue_ticket(
        app.ports, client, SERVICE, _patron_id(app), renewed=renewed, session_id=None, source="t"
    )


@pytest.fixture
async def http(app: App) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create(app))
    async with httpx.AsyncClient(transport=transport, base_url="http://library.test") as c:
        yield c


async def _validate(http: httpx.AsyncClient, ticket: str, service: str = SERVICE, **extra: str):  # type: ignore[no-untyped-def]
    answer = await http.get(
        "/cas/p3/serviceValidate", params={"ticket": ticket, "service": service, **extra}
    )
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("application/xml")
    return answer.text


async def test_a_ticket_validates_once_with_the_attributes(
    app: App, http: httpx.AsyncClient, primo: Client
) -> None:
    ticket = _ticket(app, primo)
    user, attributes, pgtiou = CASClientV3.verify_response(await _validate(http, ticket))
    assert user
    assert len(user) == 64
    assert pgtiou is None
    assert attributes["name"] == "Chan Tai Man"
    assert attributes["email"] == "chan@example.org"
    assert attributes["institution"] == "hkpl"
    assert attributes["category"] == "reader"
    assert attributes["status"] == "active"
    assert attributes["finesOverThreshold"] == "false"
    assert attributes["isFromNewLogin"] == "false"
    replay = await _validate(http, ticket)
    assert 'code="INVALID_TICKET"' in replay
    assert CASClientV3.verify_response(replay)[0] is None
    events = []
    with app.ports.uow() as uow:
        events = [s.event for s in uow.audit.recent(limit=50) if s.event.action == "sign_on"]
    assert [(e.channel, e.detail["service"]) for e in events] == [("cas", "Primo")]


async def test_a_ticket_for_another_service_or_older_than_ten_seconds_is_refused(
    app: App, http: httpx.AsyncClient, primo: Client
) -> None:
    assert 'code="INVALID_SERVICE"' in await _validate(http, _ticket(app, primo), OTHER)
    late = _ticket(app, primo)
    clock_of(app).advance(10.5)
    assert 'code="INVALID_TICKET"' in await _validate(http, late)
    just_in_time = _ticket(app, primo)
    clock_of(app).advance(9)
    assert "authenticationSuccess" in await _validate(http, just_in_time)


async def test_renew_needs_a_ticket_from_a_fresh_sign_in(
    app: App, http: httpx.AsyncClient, primo: Client
) -> None:
    assert 'code="INVALID_TICKET"' in await _validate(http, _ticket(app, primo), renew="true")
    fresh = await _validate(http, _ticket(app, primo, renewed=True), renew="true")
    assert CASClientV3.verify_response(fresh)[1]["isFromNewLogin"] == "true"


async def test_bad_requests(app: App, http: httpx.AsyncClient, primo: Client) -> None:
    assert 'code="INVALID_REQUEST"' in await _validate(http, "", SERVICE)
    assert 'code="INVALID_TICKET"' in await _validate(http, "ST-forged", SERVICE)
    assert 'code="INVALID_TICKET"' in await _validate(http, "x" * 300, SERVICE)
    proxied = await http.get(
        "/cas/proxyValidate", params={"ticket": _ticket(app, primo), "service": SERVICE}
    )
    assert 'code="UNAUTHORIZED_SERVICE_PROXY"' in proxied.text
    pgt = await _validate(http, _ticket(app, primo), pgtUrl="https://evil.example.org/pgt")
    assert 'code="UNAUTHORIZED_SERVICE_PROXY"' in pgt
    unknown = await http.get("/cas/login", params={"service": "https://evil.example.org/"})
    assert unknown.status_code == 400
    assert "location" not in unknown.headers
    huge = await http.get("/cas/login", params={"service": SERVICE + "x" * 5000})
    assert huge.status_code == 400
    assert "location" not in huge.headers


async def test_login_without_a_session_signs_in_first_or_returns_at_once_with_gateway(
    http: httpx.AsyncClient, primo: Client
) -> None:
    answer = await http.get("/cas/login", params={"service": SERVICE})
    assert answer.status_code == 303
    assert answer.headers["location"].startswith("/hkpl/sign-in?next=%2Fcas%2Flogin%3Fservice%3D")
    gateway = await http.get("/cas/login", params={"service": SERVICE, "gateway": "true"})
    assert (gateway.status_code, gateway.headers["location"]) == (303, SERVICE)


def _session_cookie(app: App, barcode: str, secret: str) -> dict[str, str]:
    signed = sign_in(
        app.ports,
        Attempt(barcode, secret, Channel.WEB, source="t", institution="hkpl"),
        session=SessionChannel.WEB,
    )
    assert signed.opened is not None
    prefix = "__Host-" if app.settings.cookie_secure else ""
    return {"cookie": f"{prefix}patronauth-session={signed.opened.token}"}


async def test_a_signed_in_patron_gets_a_ticket_and_renew_asks_again_later(
    app: App, http: httpx.AsyncClient, primo: Client
) -> None:
    chosen = "Lantern-2026-Ok!"
    change_secret(
        app.ports,
        ChangeRequest("HKPL0001", "4567", chosen, chosen, Channel.WEB, CredentialKind.PASSWORD),
    )
    cookie = _session_cookie(app, "HKPL0001", chosen)
    answer = await http.get("/cas/login", params={"service": SERVICE}, headers=cookie)
    assert answer.status_code == 302
    location = answer.headers["location"]
    assert location.startswith(SERVICE + "?ticket=ST-")
    fresh = CASClientV3.verify_response(await _validate(http, location.split("ticket=")[1]))
    assert fresh[1]["isFromNewLogin"] == "true"
    clock_of(app).advance(300)
    again = await http.get("/cas/login", params={"service": SERVICE}, headers=cookie)
    later = CASClientV3.verify_response(
        await _validate(http, again.headers["location"].split("ticket=")[1])
    )
    assert later[1]["isFromNewLogin"] == "false"
    renew = await http.get(
        "/cas/login", params={"service": SERVICE, "renew": "true"}, headers=cookie
    )
    assert renew.status_code == 303
    assert renew.headers["location"].startswith("/hkpl/sign-in?next=")
    # The old session was ended: it no longer gets tickets.
    after = await http.get("/cas/login", params={"service": SERVICE}, headers=cookie)
    assert after.headers["location"].startswith("/hkpl/sign-in?next=")


async def test_a_default_password_goes_through_the_change_step_first(
    app: App, http: httpx.AsyncClient, primo: Client
) -> None:
    cookie = _session_cookie(app, "HKPL0001", "4567")  # R5: a must-change session
    answer = await http.get("/cas/login", params={"service": SERVICE}, headers=cookie)
    assert answer.status_code == 303
    assert answer.headers["location"].startswith("/hkpl/change-required?next=%2Fcas%2Flogin")
