"""S7: every form is protected against cross-site request forgery, sign-in included."""

from __future__ import annotations

import pytest

from patronauth.bootstrap import App
from patronauth.domain.credentials import Channel
from patronauth.domain.sessions import SessionChannel
from patronauth.services.sessions import open_session
from tests.support import attempt
from tests.web.conftest import CSRF, Browser, stored

pytestmark = pytest.mark.anyio

VALID = "Lib#Reader2026"
FORMS = [
    ("/hkpl/sign-in", {"identifier": "HKPL0001", "secret": "4567"}),
    ("/hkpl/change-required", {"current": "4567", "new": VALID, "confirm": VALID}),
    ("/hkpl/change-pin", {"current": "4567", "new": "2046", "confirm": "2046"}),
    ("/hkpl/forgot", {"email": "chan@example.org"}),
    ("/hku/set-up", {"identifier": "CU1234567", "email": "hc.yip@example.org"}),
    ("/hkpl/sign-out", {}),
    ("/language", {"language": "zh_Hant", "next": "/"}),
]


def open_app_session(app: App, card: str, secret: str) -> str:
    """The token the app would hold after signing in."""
    result = attempt(app, card, secret, Channel.APP)
    return open_session(app.ports, result, SessionChannel.APP, source="test").token


@pytest.mark.parametrize(("path", "data"), FORMS)
async def test_a_form_without_its_token_or_with_a_wrong_one_is_refused(
    patrons: App, browser: Browser, path: str, data: dict[str, str]
) -> None:
    await browser.sign_in("hkpl", "HKPL0001", "4567")  # a must-change session
    before = stored(patrons)
    session = browser.session
    for token in (None, "forged", (await browser.token())[:-2] + "xx"):
        fields = dict(data) if token is None else {**data, "csrftoken": token}
        answer = await browser.post(path, fields, csrf=False)
        assert answer.status_code == 403, path
        assert "The form has expired" in answer.text
    assert stored(patrons) == before
    assert browser.session == session


async def test_a_forged_sign_in_from_another_site_is_refused(patrons: App) -> None:
    """Login CSRF: a browser with no cookies at all, posting another site's form."""
    stranger = Browser(patrons)
    answer = await stranger.post(
        "/hkpl/sign-in", {"identifier": "HKPL0001", "secret": "4567"}, csrf=False
    )
    assert answer.status_code == 403
    assert stranger.session is None
    await stranger.aclose()


async def test_a_token_from_another_browser_does_not_fit(patrons: App, browser: Browser) -> None:
    other = Browser(patrons)
    theirs = await other.token()
    await browser.token()  # this browser has its own cookie
    answer = await browser.post(
        "/hkpl/sign-in", {"identifier": "HKPL0001", "secret": "4567", "csrftoken": theirs},
        csrf=False,
    )  # fmt: skip
    assert answer.status_code == 403
    assert browser.client.cookies.get(CSRF) != theirs
    await other.aclose()


@pytest.mark.parametrize(("path", "data"), FORMS)
@pytest.mark.parametrize("authorization", ["Bearer x", "Bearer {app_token}", "bearer x"])
async def test_an_authorization_header_does_not_switch_the_check_off(
    patrons: App, browser: Browser, path: str, data: dict[str, str], authorization: str
) -> None:
    await browser.sign_in("hkpl", "HKPL0001", "4567")  # a must-change session
    app_token = open_app_session(patrons, "HKPL0001", "4567")
    before = stored(patrons)
    session = browser.session
    header = authorization.format(app_token=app_token)
    answer = await browser.client.post(path, data=data, headers={"Authorization": header})
    assert answer.status_code == 403, path
    assert "The form has expired" in answer.text
    assert stored(patrons) == before
    assert browser.session == session
