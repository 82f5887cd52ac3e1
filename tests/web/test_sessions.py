"""S7 on the web pages: a new session id at sign-in, the cookie's attributes, sign-out,
timeouts; and S5: a must-change session reaches its change page and sign-out only."""

from __future__ import annotations

import pytest

from patronauth.bootstrap import App
from tests.support import clock_of
from tests.web.conftest import SESSION, Browser

pytestmark = pytest.mark.anyio

VALID = "Lib#Reader2026"


async def signed_in_hkpl(browser: Browser) -> None:
    """HKPL0001 past the forced change, with a chosen online password."""
    signed = await browser.sign_in("hkpl", "HKPL0001", "4567")
    assert signed.headers["location"] == "/hkpl/change-required"
    changed = await browser.post(
        "/hkpl/change-required", {"current": "4567", "new": VALID, "confirm": VALID}
    )
    assert changed.headers["location"] == "/hkpl/account?changed=password"


async def test_the_session_cookie_is_secure_httponly_lax_and_host_only(
    patrons: App, browser: Browser
) -> None:
    signed = await browser.sign_in("hkpl", "HKPL0001", "4567")
    (cookie,) = [c for c in signed.headers.get_list("set-cookie") if c.startswith(SESSION)]
    attributes = {part.strip().lower() for part in cookie.split(";")[1:]}
    assert {"httponly", "secure", "samesite=lax", "path=/"} <= attributes
    assert not any(a.startswith(("domain", "max-age", "expires")) for a in attributes)


async def test_sign_in_gives_a_new_session_id_and_the_old_one_stops_working(
    patrons: App, browser: Browser
) -> None:
    await signed_in_hkpl(browser)
    first = browser.session
    assert first is not None
    assert (await browser.get("/hkpl/account")).status_code == 200

    again = await browser.sign_in("hkpl", "HKPL0001", VALID)
    assert again.headers["location"] == "/hkpl/account"
    second = browser.session
    assert second is not None
    assert second != first
    assert (await browser.get("/hkpl/account")).status_code == 200

    old = Browser(patrons)
    old.present(first)
    refused = await old.get("/hkpl/account")
    assert refused.headers["location"] == "/hkpl/sign-in?notice=session.invalid"
    await old.aclose()


async def test_a_session_id_planted_before_sign_in_is_never_adopted(
    patrons: App, browser: Browser
) -> None:
    browser.present("planted-by-somebody-else")
    await browser.sign_in("hkpl", "HKPL0001", "4567")
    assert browser.session not in {None, "planted-by-somebody-else"}


async def test_sign_out_ends_the_session_for_good(patrons: App, browser: Browser) -> None:
    await signed_in_hkpl(browser)
    token = browser.session
    assert token is not None
    signed_out = await browser.post("/hkpl/sign-out")
    assert signed_out.headers["location"] == "/hkpl/sign-in?notice=signed-out"
    assert "You have signed out." in (await browser.follow(signed_out)).text
    assert browser.session is None

    replay = Browser(patrons)  # the old cookie, sent again
    replay.present(token)
    answer = await replay.get("/hkpl/account")
    assert answer.headers["location"] == "/hkpl/sign-in?notice=session.invalid"
    assert "You are signed out." in (await replay.follow(answer)).text
    await replay.aclose()


async def test_idle_and_absolute_timeouts(patrons: App, browser: Browser) -> None:
    clock = clock_of(patrons)
    await signed_in_hkpl(browser)
    clock.advance(14 * 60)
    assert (await browser.get("/hkpl/account")).status_code == 200
    clock.advance(15 * 60 + 1)
    idle = await browser.get("/hkpl/account")
    assert idle.headers["location"] == "/hkpl/sign-in?notice=session.expired"
    assert "Your session has timed out." in (await browser.follow(idle)).text

    await browser.sign_in("hkpl", "HKPL0001", VALID)
    busy_minutes = 0
    while (answer := await browser.get("/hkpl/account")).status_code == 200:
        clock.advance(14 * 60)  # busy all day, never idle for 15 minutes
        busy_minutes += 14
    assert 8 * 60 <= busy_minutes < 8 * 60 + 14
    assert answer.headers["location"] == "/hkpl/sign-in?notice=session.expired"


EVERY_OTHER_PAGE = [
    "/",
    "/hkpl",
    "/hkpl/sign-in",
    "/hkpl/account",
    "/hkpl/account/contact",
    "/hkpl/change-password",
    "/hkpl/change-pin",
    "/hkpl/forgot",
    "/polyu/sign-in",
    "/polyu/account",
    "/hku/set-up",
    "/polyu/reset/AAAAAAAAAAAAAAAAAAAAAA",
]


async def test_a_must_change_session_reaches_only_the_change_page_and_sign_out(
    patrons: App, browser: Browser
) -> None:
    await browser.sign_in("hkpl", "HKPL0001", "4567")
    for path in EVERY_OTHER_PAGE:
        answer = await browser.get(path)
        assert answer.status_code == 303, path
        assert answer.headers["location"] == "/hkpl/change-required", path
    for path, data in [
        ("/hkpl/change-pin", {"current": "4567", "new": "2046", "confirm": "2046"}),
        ("/hkpl/change-password", {"current": "4567", "new": VALID, "confirm": VALID}),
        ("/hkpl/forgot", {"email": "chan@example.org"}),
        ("/hkpl/sign-in", {"identifier": "HKPL0001", "secret": "4567"}),
    ]:
        answer = await browser.post(path, data)
        assert answer.headers["location"] == "/hkpl/change-required", path
    page = await browser.get("/hkpl/change-required")
    assert page.status_code == 200
    assert "Choose a new online password" in page.text
    assert (await browser.get("/hkpl/sign-out")).status_code == 200
    signed_out = await browser.post("/hkpl/sign-out")
    assert signed_out.headers["location"].startswith("/hkpl/sign-in")
    assert (await browser.get("/hkpl/account")).headers["location"].startswith("/hkpl/sign-in")


async def test_a_full_session_has_no_change_step_and_stays_in_its_library(
    patrons: App, browser: Browser
) -> None:
    await signed_in_hkpl(browser)
    assert (await browser.get("/hkpl/change-required")).headers["location"] == "/hkpl/account"
    assert (await browser.get("/hkpl/sign-in")).headers["location"] == "/hkpl/account"
    assert (await browser.get("/polyu/account")).headers["location"] == "/polyu/sign-in"


@pytest.mark.parametrize("kind", ["password", "pin"])
async def test_after_a_change_the_cookie_rotates_and_other_sessions_end(
    patrons: App, browser: Browser, kind: str
) -> None:
    await signed_in_hkpl(browser)
    other = Browser(patrons)
    assert (await other.sign_in("hkpl", "HKPL0001", VALID)).headers["location"] == "/hkpl/account"
    before = browser.session
    current, new = (VALID, "Quiet#Stacks2027") if kind == "password" else ("4567", "2046")
    done = await browser.post(
        f"/hkpl/change-{kind}", {"current": current, "new": new, "confirm": new}
    )
    assert done.headers["location"] == f"/hkpl/account?changed={kind}"
    assert browser.session not in {None, before}
    assert (await browser.get("/hkpl/account")).status_code == 200
    assert (await other.get("/hkpl/account")).headers["location"].startswith("/hkpl/sign-in")
    await other.aclose()


@pytest.mark.parametrize("language", ["en", "zh-Hant"])
async def test_a_session_cookie_never_issued_here_is_told_from_a_signed_out_one(
    patrons: App, language: str
) -> None:
    forged = Browser(patrons)
    forged.present("planted-by-somebody-else")
    answer = await forged.get("/hkpl/account")
    assert answer.headers["location"] == "/hkpl/sign-in?notice=session.not_issued"
    page = await forged.get(answer.headers["location"], headers={"Accept-Language": language})
    expected = {
        "en": "This sign-in was not issued by this service. Please sign in.",
        "zh-Hant": "此登入並非由本服務發出，請登入。",
    }[language]
    assert expected in page.text
    await forged.aclose()
