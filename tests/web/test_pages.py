"""What every page shares: escaping, error pages in the visitor's language, static files."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from patronauth.web import create_web
from tests import support
from tests.web.conftest import Browser

pytestmark = pytest.mark.anyio


async def test_typed_html_comes_back_escaped(patrons: object, browser: Browser) -> None:
    page = await browser.sign_in("hkpl", '"><script>alert(1)</script>', "4567")
    assert page.status_code == 422
    assert "<script>alert(1)</script>" not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text


async def test_unknown_pages_get_a_page_in_the_visitors_language(
    patrons: object, browser: Browser
) -> None:
    missing = await browser.get("/hkpl/nothing-here", headers={"accept-language": "zh-HK"})
    assert missing.status_code == 404
    assert "找不到網頁" in missing.text
    assert "香港公共圖書館" in missing.text  # still the library's own page
    wrong_method = await browser.post("/hkpl/account", {})
    assert wrong_method.status_code == 405
    assert "This page cannot be used that way" in wrong_method.text


async def test_a_failure_gets_a_page_that_says_nothing_was_changed(
    sqlite_url: str, tmp_path: Path
) -> None:
    app = support.make_app(support.test_env(sqlite_url, tmp_path / "var"))
    web = create_web(app)
    app.engine.dispose()
    Path(sqlite_url.removeprefix("sqlite:///")).unlink()  # the database is gone
    transport = httpx.ASGITransport(app=web, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as client:
        form = await client.get("/hkpl/sign-in")
        token = form.cookies.get("__Host-patronauth-csrf")
        assert token is not None
        failed = await client.post(
            "/hkpl/sign-in", data={"identifier": "HKPL0001", "secret": "4567", "csrftoken": token}
        )
    assert failed.status_code == 500
    assert "Sorry, something went wrong" in failed.text
    assert "Traceback" not in failed.text
    assert "sqlite" not in failed.text.lower()
    app.close()


async def test_static_files(app: object, browser: Browser) -> None:
    for path, kind in [
        ("/static/site.css", "text/css"),
        ("/static/hints.js", "javascript"),
        ("/static/favicon.svg", "image/svg+xml"),
    ]:
        answer = await browser.get(path)
        assert answer.status_code == 200, path
        assert kind in answer.headers["content-type"], path
    assert (await browser.get("/static/../site.py")).status_code == 404
