"""S7: an app token is no web session and a web session's cookie is no app token, in
either direction, for a full session and for a change-only one."""

from __future__ import annotations

import httpx
import pytest

from patronauth.asgi import create
from patronauth.bootstrap import App
from patronauth.domain.credentials import Channel, CredentialKind
from patronauth.domain.sessions import SessionChannel
from patronauth.services.credentials import ChangeRequest, change_secret
from patronauth.services.sessions import open_session
from tests.support import attempt
from tests.web.conftest import Browser

pytestmark = pytest.mark.anyio

PASSWORD = "Lib#Reader2026"


@pytest.fixture(params=["full", "change-only"])
def signed_in(patrons: App, request: pytest.FixtureRequest) -> tuple[App, str]:
    """HKPL0001 and the secret to sign in with: a password of their own (full
    sessions), or the default (change-only sessions)."""
    if request.param == "change-only":
        return patrons, "4567"
    change_secret(
        patrons.ports,
        ChangeRequest("HKPL0001", "4567", PASSWORD, PASSWORD, Channel.WEB, CredentialKind.PASSWORD),
    )
    return patrons, PASSWORD


def token_of(app: App, channel: SessionChannel, secret: str) -> str:
    kind = Channel.WEB if channel is SessionChannel.WEB else Channel.APP
    result = attempt(app, "HKPL0001", secret, kind)
    assert result.signed_in
    return open_session(app.ports, result, channel, source="test").token


def api(app: App) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create(app)), base_url="https://library.test"
    )


async def test_a_web_session_cookie_is_no_app_token(signed_in: tuple[App, str]) -> None:
    chosen, secret = signed_in
    web = token_of(chosen, SessionChannel.WEB, secret)
    app_token = token_of(chosen, SessionChannel.APP, secret)
    async with api(chosen) as client:
        me = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {web}"})
        assert (me.status_code, me.json()["error"]) == (401, "signed_out")
        # The app's own token works (or asks for the change, on a change-only session).
        own = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {app_token}"})
        assert own.status_code == (200 if secret == PASSWORD else 403)
        # Signing out with the cookie's value ends nothing.
        out = await client.delete(
            "/api/v1/sessions/current", headers={"Authorization": f"Bearer {web}"}
        )
        assert out.status_code == 401
    browser = Browser(chosen)
    browser.present(web)
    page = await browser.get("/hkpl/account")
    assert page.status_code == (200 if secret == PASSWORD else 303)
    if secret != PASSWORD:
        assert page.headers["location"] == "/hkpl/change-required"
    await browser.aclose()


async def test_an_app_token_is_no_web_session(signed_in: tuple[App, str]) -> None:
    chosen, secret = signed_in
    app_token = token_of(chosen, SessionChannel.APP, secret)
    browser = Browser(chosen)
    browser.present(app_token)  # planted as the session cookie
    page = await browser.get("/hkpl/account")
    assert page.status_code == 303
    assert page.headers["location"] == "/hkpl/sign-in?notice=session.invalid"
    # As a bearer header, the pages ignore it altogether.
    bare = Browser(chosen)
    page = await bare.get("/hkpl/account", headers={"Authorization": f"Bearer {app_token}"})
    assert page.status_code == 303
    assert page.headers["location"] == "/hkpl/sign-in?notice=session.missing"
    # The web sign-out with the planted token leaves the app signed in.
    await browser.post("/hkpl/sign-out", {})
    async with api(chosen) as client:
        me = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {app_token}"})
        assert me.status_code == (200 if secret == PASSWORD else 403)
    await browser.aclose()
    await bare.aclose()
