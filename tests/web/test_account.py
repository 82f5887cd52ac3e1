"""My Account: the patron's details with the ID number masked (S9), credential states,
the default-PIN notice, recent sign-ins from the audit trail, and the change pages
(R6: the PIN under "Contact" at HKPL; PIN-only libraries change it from the account)."""

from __future__ import annotations

import pytest

from patronauth.bootstrap import App
from tests.web.conftest import Browser

pytestmark = pytest.mark.anyio

VALID = "Lib#Reader2026"


async def hkpl_signed_in(browser: Browser) -> None:
    await browser.sign_in("hkpl", "HKPL0001", "4567")
    await browser.post("/hkpl/change-required", {"current": "4567", "new": VALID, "confirm": VALID})


async def test_my_account_shows_the_record_with_the_id_number_masked(
    patrons: App, browser: Browser
) -> None:
    await browser.sign_in("polyu", "21012345A", "wrong1")
    await browser.sign_in("polyu", "21012345A", "Z12345")
    await browser.post(
        "/polyu/change-required", {"current": "Z12345", "new": "q7x2m9", "confirm": "q7x2m9"}
    )
    page = await browser.get("/polyu/account")
    assert page.status_code == 200
    assert page.headers["cache-control"] == "no-store"
    text = page.text
    assert "Wong Ka Yan" in text
    assert "21012345A" in text
    assert "Z1******" in text
    assert "Z12345" not in text  # S9: not even the default's part of it
    assert "Chosen by you" in text
    assert "Student" in text
    # The audit trail: the wrong PIN, then the default that opened the change step.
    assert "Refused: wrong PIN" in text  # PolyU has one secret, its PIN
    assert "password or PIN" not in text
    assert "Signed in; a change was required" in text
    assert "127.0.0.1" in text
    assert 'href="/polyu/change-pin"' in text  # PolyU's only secret: changed from here
    assert (await browser.get("/polyu/change-password")).status_code == 404


async def test_hkpl_notes_the_default_pin_and_changes_it_under_contact(
    patrons: App, browser: Browser
) -> None:
    await hkpl_signed_in(browser)
    page = await browser.get("/hkpl/account?changed=password")
    assert "Your online password has been changed." in page.text
    assert (
        "Your PIN is still the default: the last 4 digits of your registered phone number."
        in page.text
    )
    contact = await browser.get("/hkpl/account/contact")
    assert 'href="/hkpl/change-pin"' in contact.text
    assert "91******" in contact.text  # the phone, masked
    assert "Telephone renewal" in contact.text
    assert "Self-service machine" in contact.text

    form = await browser.get("/hkpl/change-pin")
    assert 'href="/hkpl/account/contact" aria-current="page"' in form.text
    assert 'inputmode="numeric"' in form.text
    common = await browser.post("/hkpl/change-pin", {"current": "4567", "new": "1234",
                                                     "confirm": "1234"})  # fmt: skip
    assert "This PIN is too common." in common.text
    done = await browser.post("/hkpl/change-pin", {"current": "4567", "new": "2046",
                                                   "confirm": "2046"})  # fmt: skip
    assert done.headers["location"] == "/hkpl/account?changed=pin"
    page = await browser.follow(done)
    assert "Your PIN has been changed." in page.text
    assert "is still the default" not in page.text


async def test_a_wrong_current_secret_counts_and_blocks(patrons: App, browser: Browser) -> None:
    await hkpl_signed_in(browser)
    for attempt in range(5):
        wrong = await browser.post(
            "/hkpl/change-pin", {"current": f"99{attempt}0", "new": "2046", "confirm": "2046"}
        )
        assert "Your current PIN is not correct." in wrong.text
    blocked = await browser.post(
        "/hkpl/change-pin", {"current": "4567", "new": "2046", "confirm": "2046"}
    )
    assert blocked.status_code == 422
    assert blocked.headers["retry-after"] == "60"
    assert "It is blocked; try again in 60 seconds." in blocked.text


async def test_the_change_pages_carry_the_live_hints_and_work_without_them(
    patrons: App, browser: Browser
) -> None:
    await browser.sign_in("hkpl", "HKPL0001", "4567")
    page = await browser.get("/hkpl/change-required")
    assert '<script src="/static/hints.js" defer></script>' in page.text
    assert 'data-policy-check="/hkpl/policy-check" data-credential="password">' in page.text
    assert '"password.missing_special": "The password needs at least one special' in page.text
    assert "At least one special character" in page.text  # the rules, without JavaScript
    assert "<script>" not in page.text  # no inline script (CSP)
    script = await browser.get("/static/hints.js")
    assert script.status_code == 200
    assert "/api/v1/policy-checks" not in script.text  # the page says where to ask
    assert (await browser.get("/static/site.css")).status_code == 200


async def test_every_problem_of_a_change_is_shown_at_once(patrons: App, browser: Browser) -> None:
    """The new PIN's problems and the confirmation's, each at its own field; the same
    list the API gives."""
    await hkpl_signed_in(browser)
    refused = await browser.post(
        "/hkpl/change-pin", {"current": "4567", "new": "12a4", "confirm": "12a5"}
    )
    assert refused.status_code == 422
    summary = refused.text.split('class="error-summary"', 1)[1].split("</ul>", 1)[0]
    assert summary.count("<li>") == 2
    assert 'href="#new"' in summary
    assert 'href="#confirm"' in summary
    assert "The two new entries are not the same." in summary
