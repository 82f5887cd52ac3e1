"""Every answer of the API and of the pages carries the security headers once; the API's
are never cached and vary with the language asked for."""

from __future__ import annotations

import httpx
import pytest

pytestmark = pytest.mark.anyio


async def test_api_answers_are_not_cached_and_carry_the_security_headers(
    edge_client: httpx.AsyncClient,
) -> None:
    answer = await edge_client.post(
        "/api/v1/sessions", json={"identifier": "HKPL0001", "secret": "Wrong#Pass1"}
    )
    assert answer.status_code == 401
    assert answer.headers.get_list("cache-control") == ["no-store"]
    assert "Accept-Language" in answer.headers.get_list("vary")
    assert answer.headers.get_list("x-frame-options") == ["DENY"]
    assert answer.headers.get_list("x-content-type-options") == ["nosniff"]
    assert answer.headers["content-security-policy"].startswith("default-src 'self'")


async def test_pages_carry_the_security_headers_once(edge_client: httpx.AsyncClient) -> None:
    page = await edge_client.get("/hkpl/sign-in")
    assert page.status_code == 200
    assert page.headers.get_list("x-frame-options") == ["DENY"]
    assert page.headers.get_list("referrer-policy") == ["same-origin"]
    assert page.headers.get_list("cross-origin-opener-policy") == ["same-origin"]
