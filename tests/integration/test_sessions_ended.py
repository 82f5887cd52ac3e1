"""Issue 9: what a staff reset, a card replacement or a change on another channel does to
the sessions already open: an app token gets 401, a web page goes back to sign-in.

Over SQLite with the sessions in the database, and over PostgreSQL with the sessions
in Redis (the database only while Redis is unreachable), as deployed.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
from redis import Redis

from patronauth.adapters.redis_health import RedisHealth
from patronauth.adapters.sessions import FallbackSessionStore, RedisSessionStore
from patronauth.adapters.storage.sessions import SqlSessionStore
from patronauth.asgi import create
from patronauth.bootstrap import App
from patronauth.domain.credentials import Channel, CredentialKind
from patronauth.domain.errors import Conflict
from patronauth.domain.patrons import PatronStatus
from patronauth.services.credentials import ChangeRequest, change_secret, reset_credential
from patronauth.services.staff import bar, replace_card, unlock
from tests.api.helpers import HKPL_PASSWORD, bearer, chosen_password, sign_in
from tests.support import STAFF, make_app, register
from tests.support import test_env as deployment_env
from tests.web.conftest import Browser

pytestmark = pytest.mark.anyio

NEWER = "Quiet!Stacks22"
ACCOUNT = "/hkpl/account"
BACK_TO_SIGN_IN = "/hkpl/sign-in?notice=session.invalid"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def deployed(request: pytest.FixtureRequest, database_url: str, tmp_path: Path) -> Iterator[App]:
    """HKPL0001 (password and PIN 4567 by default) on SQLite with the sessions in the
    database, or on PostgreSQL with the sessions in Redis."""
    app = make_app(deployment_env(database_url, tmp_path / "var"))
    client = None
    if database_url.startswith("postgresql"):
        client = Redis.from_url(request.getfixturevalue("redis_url"))
        # A prefix of this test alone: test runs may share the Redis server.
        prefix = f"patronauth-test:{secrets.token_hex(6)}:"
        store = FallbackSessionStore(
            RedisSessionStore(client, app.ports.session_policy, prefix=prefix),
            SqlSessionStore(app.engine),
            RedisHealth("sessions", retry_seconds=0),
        )
        app = replace(app, ports=replace(app.ports, sessions=store))
    register(app, "hkpl", "HKPL0001", name="Chan Tai Man", phone="9123 4567")
    yield app
    if client is not None:
        keys = list(client.scan_iter(match=f"{prefix}*"))
        if keys:
            client.delete(*keys)
        client.close()
    app.close()


@pytest.fixture
async def api(deployed: App) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create(deployed))
    async with httpx.AsyncClient(transport=transport, base_url="http://library.test") as c:
        yield c


async def _open(deployed: App, api: httpx.AsyncClient) -> tuple[dict[str, str], Browser]:
    """A full app token and a signed-in web page, both working."""
    await chosen_password(api)
    token = bearer((await sign_in(api, "HKPL0001", HKPL_PASSWORD))["token"])
    browser = Browser(deployed)
    signed = await browser.sign_in("hkpl", "HKPL0001", HKPL_PASSWORD)
    assert signed.headers["location"] == ACCOUNT
    assert (await api.get("/api/v1/me", headers=token)).status_code == 200
    assert (await browser.get(ACCOUNT)).status_code == 200
    return token, browser


async def _refused(api: httpx.AsyncClient, token: dict[str, str], browser: Browser) -> None:
    me = await api.get("/api/v1/me", headers=token)
    assert (me.status_code, me.json()["error"]) == (401, "signed_out")
    page = await browser.get(ACCOUNT)
    assert (page.status_code, page.headers["location"]) == (303, BACK_TO_SIGN_IN)


async def test_a_staff_reset_ends_every_open_session(deployed: App, api: httpx.AsyncClient) -> None:
    token, browser = await _open(deployed, api)
    reset = reset_credential(
        deployed.ports, "HKPL0001", CredentialKind.PASSWORD, staff=STAFF, institution="hkpl"
    )
    assert reset.temporary is None  # back to the default (R27)
    await _refused(api, token, browser)
    await browser.aclose()


async def test_a_replaced_card_ends_every_open_session(
    deployed: App, api: httpx.AsyncClient
) -> None:
    token, browser = await _open(deployed, api)
    replace_card(deployed.ports, "HKPL0001", "HKPL0002", staff=STAFF)
    await _refused(api, token, browser)
    # The new card signs in with the same password (R25).
    assert (await sign_in(api, "HKPL0002", HKPL_PASSWORD))["must_change"] is False
    await browser.aclose()


async def test_a_change_at_the_counter_ends_the_app_token_and_the_web_page(
    deployed: App, api: httpx.AsyncClient
) -> None:
    token, browser = await _open(deployed, api)
    change_secret(
        deployed.ports,
        ChangeRequest("HKPL0001", HKPL_PASSWORD, NEWER, NEWER, Channel.STAFF, source="cli"),
    )
    await _refused(api, token, browser)
    await browser.aclose()


async def test_a_change_on_the_web_pages_ends_the_app_token(
    deployed: App, api: httpx.AsyncClient
) -> None:
    token, browser = await _open(deployed, api)
    changed = await browser.post(
        "/hkpl/change-password", {"current": HKPL_PASSWORD, "new": NEWER, "confirm": NEWER}
    )
    assert changed.headers["location"] == "/hkpl/account?changed=password"
    assert (await browser.get(ACCOUNT)).status_code == 200  # the page that changed it
    me = await api.get("/api/v1/me", headers=token)
    assert (me.status_code, me.json()["error"]) == (401, "signed_out")
    await browser.aclose()


async def test_a_change_in_the_app_ends_the_web_page(deployed: App, api: httpx.AsyncClient) -> None:
    token, browser = await _open(deployed, api)
    changed = await api.put(
        "/api/v1/me/password",
        headers=token,
        json={"current": HKPL_PASSWORD, "new": NEWER, "confirm": NEWER},
    )
    assert changed.status_code == 204
    assert (await api.get("/api/v1/me", headers=token)).status_code == 200  # kept
    page = await browser.get(ACCOUNT)
    assert (page.status_code, page.headers["location"]) == (303, BACK_TO_SIGN_IN)
    await browser.aclose()


async def test_an_unlock_leaves_the_sessions_open(deployed: App, api: httpx.AsyncClient) -> None:
    """An unlock changes no secret and no card: whoever is signed in stays signed in."""
    token, browser = await _open(deployed, api)
    unlock(deployed.ports, "HKPL0001", staff=STAFF, institution="hkpl")
    assert (await api.get("/api/v1/me", headers=token)).status_code == 200
    assert (await browser.get(ACCOUNT)).status_code == 200
    await browser.aclose()


async def test_a_bar_ends_every_open_session_and_refuses_the_next_sign_in(
    deployed: App, api: httpx.AsyncClient
) -> None:
    token, browser = await _open(deployed, api)
    barred = bar(deployed.ports, "HKPL0001", staff=STAFF, institution="hkpl")
    assert barred.status is PatronStatus.BARRED
    await _refused(api, token, browser)
    again = await api.post(
        "/api/v1/sessions", json={"identifier": "HKPL0001", "secret": HKPL_PASSWORD}
    )
    assert (again.status_code, again.json()["error"]) == (403, "account_barred")
    with pytest.raises(Conflict) as twice:
        bar(deployed.ports, "HKPL0001", staff=STAFF, institution="hkpl")
    assert twice.value.code == "patron.already_barred"
    lifted = bar(deployed.ports, "HKPL0001", staff=STAFF, barred=False, institution="hkpl")
    assert lifted.status is PatronStatus.ACTIVE
    assert (await sign_in(api, "HKPL0001", HKPL_PASSWORD))["must_change"] is False
    await browser.aclose()
