"""English and Traditional Chinese: switched with a form, remembered in a cookie,
otherwise taken from the browser's Accept-Language."""

from __future__ import annotations

import pytest

from patronauth.bootstrap import App
from tests.web.conftest import LANGUAGE, Browser

pytestmark = pytest.mark.anyio


async def test_the_switch_is_remembered(app: App, browser: Browser) -> None:
    switched = await browser.post("/language", {"language": "zh_Hant", "next": "/hkpl/forgot"})
    assert switched.status_code == 303
    assert switched.headers["location"] == "/hkpl/forgot"
    (cookie,) = [c for c in switched.headers.get_list("set-cookie") if c.startswith(LANGUAGE)]
    for attribute in ("HttpOnly", "Secure", "Max-Age=31536000"):
        assert attribute in cookie
    for path in ("/hkpl/forgot", "/polyu/sign-in", "/"):
        page = await browser.get(path)
        assert '<html lang="zh-Hant-HK">' in page.text, path
    page = await browser.get("/polyu/sign-in")
    assert "圖書證號碼" in page.text
    assert "個人密碼" in page.text  # PolyU's PIN, in the profile's own words
    assert 'lang="en">English</button>' in page.text

    back = await browser.post("/language", {"language": "en", "next": "/polyu/sign-in"})
    assert back.headers["location"] == "/polyu/sign-in"
    assert '<html lang="en">' in (await browser.get("/polyu/sign-in")).text


@pytest.mark.parametrize(
    ("header", "lang"),
    [
        ("zh-HK,zh;q=0.9,en;q=0.8", "zh-Hant-HK"),
        ("zh-Hant-TW", "zh-Hant-HK"),
        ("zh-CN,zh;q=0.9", "en"),
        ("fr-FR, en;q=0.5", "en"),
        ("en;q=0.2, zh-HK;q=0.9", "zh-Hant-HK"),
        ("", "en"),
    ],
)
async def test_without_a_choice_the_browser_language_counts(
    app: App, browser: Browser, header: str, lang: str
) -> None:
    page = await browser.get("/hkpl/sign-in", headers={"accept-language": header})
    assert f'<html lang="{lang}">' in page.text


@pytest.mark.parametrize(
    "target", ["https://evil.example/", "//evil.example/", "/\\evil.example", "javascript:x"]
)
async def test_the_switch_never_sends_anyone_to_another_site(
    app: App, browser: Browser, target: str
) -> None:
    answer = await browser.post("/language", {"language": "en", "next": target})
    assert answer.headers["location"] == "/"


async def test_an_unknown_language_changes_nothing(app: App, browser: Browser) -> None:
    answer = await browser.post("/language", {"language": "fr", "next": "/hkpl/sign-in"})
    assert answer.headers["location"] == "/hkpl/sign-in"
    assert LANGUAGE not in answer.headers.get("set-cookie", "")
