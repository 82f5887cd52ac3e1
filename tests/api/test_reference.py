"""The interactive API reference at /api/v1/docs: Swagger UI from our own origin,
started by a script of ours, under the site's Content-Security-Policy."""

from __future__ import annotations

import re

import httpx
import pytest

from patronauth.bootstrap import App
from patronauth.presentation.http import SECURITY_HEADERS

pytestmark = pytest.mark.anyio


async def test_the_reference_page_loads_swagger_ui_and_our_script_from_our_origin(
    hkpl: App, client: httpx.AsyncClient
) -> None:
    page = await client.get("/api/v1/docs")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert page.headers["content-security-policy"] == dict(SECURITY_HEADERS)[
        b"content-security-policy"
    ].decode("ascii")
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", page.text, re.S)
    assert [body for _, body in scripts] == ["", ""]  # no inline script
    sources = [re.findall(r'src="([^"]+)"', attributes) for attributes, _ in scripts]
    assert sources == [["/api/v1/docs/swagger-ui-bundle.js"], ["/api/v1/docs/reference.js"]]
    assert 'href="/api/v1/docs/swagger-ui.css"' in page.text
    assert 'data-openapi="/api/v1/openapi.json"' in page.text
    assert "http" not in page.text  # no other origin named (no CDN)
    assert "style=" not in page.text
    assert "<style" not in page.text

    bundle = await client.get("/api/v1/docs/swagger-ui-bundle.js")
    assert bundle.status_code == 200
    assert bundle.headers["content-type"].startswith("text/javascript")
    assert b"SwaggerUIBundle" in bundle.content
    start = await client.get("/api/v1/docs/reference.js")
    assert start.status_code == 200
    assert "SwaggerUIBundle(" in start.text
    assert "data-openapi" in start.text
    css = await client.get("/api/v1/docs/swagger-ui.css")
    assert (css.status_code, css.headers["content-type"][:8]) == (200, "text/css")


@pytest.mark.parametrize(
    "name", ["index.html", "swagger-initializer.js", "oauth2-redirect.html", "..%2Fcore.py"]
)
async def test_only_the_files_the_page_needs_are_served(
    hkpl: App, client: httpx.AsyncClient, name: str
) -> None:
    assert (await client.get(f"/api/v1/docs/{name}")).status_code == 404


async def test_the_reference_is_not_an_operation_of_the_document(
    hkpl: App, client: httpx.AsyncClient
) -> None:
    document = (await client.get("/api/v1/openapi.json")).json()
    assert not [path for path in document["paths"] if path.startswith("/docs")]
    assert "/api/v1/docs" in document["info"]["description"]
