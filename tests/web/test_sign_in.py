"""Signing in on the web: each library's own credential, the seeds' refusal texts
(blocked with the time, registration incomplete with the contact text, suspended),
and one answer for unknown cards and wrong secrets (S4)."""

from __future__ import annotations

import re

import pytest

from patronauth.bootstrap import App
from tests.support import clock_of, register
from tests.web.conftest import Browser

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(
    ("library", "label"),
    [("hkpl", "Online password"), ("polyu", "PIN"), ("hkct", "Password"), ("hku", "PIN")],
)
async def test_each_library_asks_for_the_secret_it_uses_on_the_web(
    app: App, browser: Browser, library: str, label: str
) -> None:
    page = await browser.get(f"/{library}/sign-in")
    assert page.status_code == 200
    assert '<label class="field__label" for="identifier">Library card number</label>' in page.text
    assert f'<label class="field__label" for="secret">{label}</label>' in page.text
    assert 'autocomplete="current-password"' in page.text
    assert '<html lang="en">' in page.text


async def test_the_library_list_links_every_library(app: App, browser: Browser) -> None:
    page = await browser.get("/")
    for library in ("hkpl", "polyu", "hkct", "hku"):
        assert f'href="/{library}/sign-in"' in page.text
    assert (await browser.get("/nowhere/sign-in")).status_code == 404


async def test_unknown_card_and_wrong_secret_get_the_same_page(
    patrons: App, browser: Browser
) -> None:
    wrong = await browser.sign_in("polyu", "21012345A", "wrong1")
    unknown = await browser.sign_in("polyu", "21099999Z", "wrong1")
    assert wrong.status_code == unknown.status_code == 422
    assert "The card number or the PIN is not correct." in wrong.text  # PolyU's one secret
    assert wrong.text.replace("21012345A", "CARD") == unknown.text.replace("21099999Z", "CARD")


async def test_the_sixth_attempt_within_a_minute_is_blocked_with_the_time(
    patrons: App, browser: Browser
) -> None:
    for attempt in range(5):
        assert (await browser.sign_in("polyu", "21012345A", f"wrong{attempt}")).status_code == 422
    blocked = await browser.sign_in("polyu", "21012345A", "Z12345")  # R12: even the right PIN
    assert blocked.status_code == 429
    assert blocked.headers["retry-after"] == "60"
    assert "It is blocked; try again in 60 seconds." in blocked.text
    assert browser.session is None
    clock_of(patrons).advance(61)
    assert (await browser.sign_in("polyu", "21012345A", "Z12345")).status_code == 303


async def test_an_incomplete_registration_is_refused_with_the_contact_text(
    patrons: App, browser: Browser
) -> None:
    refused = await browser.sign_in("hkct", "S2019001", "S2019001")
    assert refused.status_code == 403
    assert "your registration is not complete" in refused.text
    assert "phone 2265 6918, e-mail lib@hkct.edu.hk" in refused.text  # R17


async def test_a_suspended_pin_is_refused_with_the_contact_text(
    patrons: App, browser: Browser
) -> None:
    clock = clock_of(patrons)
    for attempt in range(10):  # the consecutive cap, in rounds below the block
        if attempt and attempt % 5 == 0:
            clock.advance(61)
        await browser.sign_in("polyu", "21012345A", f"wrong{attempt}")
    clock.advance(3600)  # past the second, doubled block
    refused = await browser.sign_in("polyu", "21012345A", "Z12345")
    assert refused.status_code == 403
    assert "This PIN is suspended after too many wrong attempts." in refused.text
    assert "Circulation Counter on the Podium Floor" in refused.text


async def test_refusals_in_chinese(patrons: App, browser: Browser) -> None:
    await browser.post("/language", {"language": "zh_Hant", "next": "/hkct/sign-in"})
    pending = await browser.sign_in("hkct", "S2019001", "S2019001")
    assert "你的登記手續尚未完成" in pending.text
    assert "電話 2265 6918" in pending.text
    for attempt in range(5):
        await browser.sign_in("polyu", "21012345A", f"wrong{attempt}")
    blocked = await browser.sign_in("polyu", "21012345A", "Z12345")
    assert "已被封鎖；請於 60 秒後再試" in blocked.text
    assert '<html lang="zh-Hant-HK">' in blocked.text


async def test_a_correct_default_opens_the_change_step_of_its_credential(
    app: App, browser: Browser
) -> None:
    register(app, "polyu", "19054321B", category="alumni", id_number="XY12345678",
             id_type="passport")  # fmt: skip
    signed = await browser.sign_in("polyu", "19054321B", "XY1235")
    assert signed.status_code == 422
    # A default's letters count in either case (docs/profiles.md, "Defaults in capitals").
    signed = await browser.sign_in("polyu", "19054321B", "xy1234")
    assert signed.headers["location"] == "/polyu/change-required"
    page = await browser.follow(signed)
    assert "Choose a new PIN" in page.text
    assert re.search(r"first 6 letters and digits of your HKID, passport", page.text)
