"""The interactive API reference (`/api/v1/docs`) in a real browser: Swagger UI from our
own origin renders the operations of the OpenAPI document, and the page's
Content-Security-Policy blocks nothing (the `page` fixture fails on any violation)."""

from __future__ import annotations

from typing import Any

from tests.e2e.conftest import Server, shot


def test_the_reference_lists_the_operations_from_our_own_origin(page: Any, server: Server) -> None:
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    # Every violation the page reports, beside the console check of the `page` fixture.
    page.add_init_script(
        "window.violations = [];"
        "document.addEventListener('securitypolicyviolation', e =>"
        " window.violations.push(e.violatedDirective + ' ' + e.blockedURI));"
    )
    answer = page.goto("/api/v1/docs")
    assert answer.headers["content-security-policy"].startswith(
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self';"
    )  # the site's policy, unrelaxed
    sign_in = page.locator('.opblock-post .opblock-summary-path[data-path="/sessions"]')
    sign_in.wait_for()
    assert page.locator(".opblock").count() >= 15
    assert page.locator('.opblock-get .opblock-summary-path[data-path="/me"]').count() == 1
    assert "PatronAuth" in page.locator(".info .title").inner_text()
    sign_in.click()  # the operation opens with its answers
    page.locator(".opblock.is-open .responses-table").first.wait_for()
    assert "invalid_credentials" in page.locator(".opblock.is-open").inner_text()
    shot(page, "46-api-reference")
    assert page.evaluate("window.violations") == []
    assert requested
    assert all(url.startswith(server.url + "/") for url in requested), requested
    assert f"{server.url}/api/v1/docs/reference.js" in requested
    assert f"{server.url}/api/v1/openapi.json" in requested
