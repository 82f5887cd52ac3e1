"""SPEC 7: while the database does not answer, the API says 503 and when to retry."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from patronauth.asgi import create
from patronauth.services.sessions import issue_token
from tests.servers import free_port as closed_port
from tests.support import make_app
from tests.support import test_env as deployment_env

pytestmark = pytest.mark.anyio


async def test_a_database_that_does_not_answer_gives_503(tmp_path: Path) -> None:
    url = f"postgresql://postgres@127.0.0.1:{closed_port()}/patronauth"
    app = make_app(deployment_env(url, tmp_path / "var"))
    token = issue_token(app.ports)  # well-formed: it must be looked up
    try:
        transport = httpx.ASGITransport(app=create(app))
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            answers = [
                await client.post(
                    "/api/v1/sessions", json={"identifier": "HKPL0001", "secret": "4567"}
                ),
                await client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}),
                await client.put(
                    "/api/v1/me/pin",
                    headers={"Authorization": f"Bearer {token}", "Accept-Language": "zh-Hant"},
                    json={"current": "4567", "new": "2046", "confirm": "2046"},
                ),
            ]
            # A token this installation never issued is told by its MAC, without the database.
            forged = await client.get("/api/v1/me", headers={"Authorization": "Bearer abc"})
    finally:
        app.close()
    assert (forged.status_code, forged.json()["error"]) == (401, "invalid_token")
    for answer in answers:
        assert answer.status_code == 503
        assert answer.json()["error"] == "service_unavailable"
        assert answer.headers["Retry-After"] == "5"
    assert answers[2].json()["message"] == "服務暫時未能使用，請稍後再試。"
