"""/livez, /readyz and /metrics of one process (several workers of a real server:
test_serve.py)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from patronauth.adapters import metrics
from patronauth.adapters.config import ConfigError, Settings
from patronauth.asgi import create
from patronauth.bootstrap import App
from tests.servers import free_port
from tests.support import METRICS_HEADERS, METRICS_TOKEN, make_app, register
from tests.support import test_env as deployment_env

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def served(app: App) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create(app))
    async with httpx.AsyncClient(transport=transport, base_url="https://library.test") as client:
        yield client
    app.close()


@pytest.fixture
async def client(database_url: str, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    app = make_app(deployment_env(database_url, tmp_path / "var"))
    register(app, "hkpl", "HKPL0001", phone="9123 4567")
    async for client in served(app):
        yield client


def value(text: str, name: str, **labels: str) -> float:
    """One sample of the text format, 0 when absent."""
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in text.splitlines():
        match = re.fullmatch(r"([a-z_]+)(?:\{(.*)\})? (\S+)", line)
        if match and match.group(1) == name:
            got = ",".join(sorted((match.group(2) or "").split(","))) if match.group(2) else ""
            if got == wanted:
                return float(match.group(3))
    return 0.0


async def test_liveness_and_readiness_without_redis(client: httpx.AsyncClient) -> None:
    live = await client.get("/livez")
    assert (live.status_code, live.json()) == (200, {"status": "ok"})
    ready = await client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready", "database": "up", "redis": "not used"}
    assert (await client.get("/healthz")).json() == {"status": "ok", "database": "up"}


async def test_readiness_says_which_fallback_is_active_while_redis_is_down(
    sqlite_url: str, tmp_path: Path
) -> None:
    env = deployment_env(
        sqlite_url,
        tmp_path / "var",
        PATRONAUTH_COUNTER="redis",
        PATRONAUTH_REDIS_URL=f"redis://127.0.0.1:{free_port()}/0",
    )
    async for client in served(make_app(env)):
        ready = await client.get("/readyz")
    assert ready.status_code == 200  # still serving: the fallbacks count and limit
    body = ready.json()
    assert (body["status"], body["database"], body["redis"]) == ("ready", "up", "down")
    assert body["fallback"]["counter"] == "database"
    assert body["fallback"]["throttle"] == "memory"


async def test_metrics_count_attempts_by_channel_and_outcome(client: httpx.AsyncClient) -> None:
    before = (await client.get("/metrics", headers=METRICS_HEADERS)).text
    wrong = {"identifier": "HKPL0001", "secret": "0000"}
    for _ in range(5):
        assert (await client.post("/api/v1/sessions", json=wrong)).status_code == 401
    blocked = await client.post("/api/v1/sessions", json=wrong)
    assert blocked.status_code == 429
    page = await client.get("/metrics", headers=METRICS_HEADERS)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/plain")
    after = page.text

    def grew(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert grew("patronauth_attempts_total", channel="app", outcome="invalid") == 5
    assert grew("patronauth_attempts_total", channel="app", outcome="blocked") == 1
    assert grew("patronauth_blocks_total") == 1
    assert grew("patronauth_hash_seconds_count") == 5  # the blocked attempt ran no hash
    for name in (
        "patronauth_hash_queue_depth",
        "patronauth_hash_busy_total",
        "patronauth_database_errors_total",
    ):
        assert re.search(rf"^{name} ", after, re.MULTILINE), name
    assert "HKPL0001" not in after
    assert "hkpl0001" not in after


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong-token-of-enough-length-0123456789"},
        {"Authorization": f"Basic {METRICS_HEADERS['Authorization'].split()[1]}"},
        {"Authorization": METRICS_HEADERS["Authorization"] + "x"},
    ],
    ids=["none", "wrong", "basic", "longer"],
)
async def test_metrics_on_the_public_port_need_the_bearer_token(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    refused = await client.get("/metrics", headers=headers)
    assert refused.status_code == 401
    assert refused.headers["www-authenticate"] == "Bearer"
    assert "patronauth_" not in refused.text


async def test_without_a_token_the_public_port_has_no_metrics(
    sqlite_url: str, tmp_path: Path
) -> None:
    env = deployment_env(sqlite_url, tmp_path / "var", PATRONAUTH_METRICS_TOKEN="")
    async for client in served(make_app(env)):
        for headers in ({}, METRICS_HEADERS, {"Authorization": "Bearer "}):
            page = await client.get("/metrics", headers=headers)
            assert page.status_code == 404
            assert "patronauth_attempts" not in page.text


def test_metrics_on_a_separate_address_with_and_without_a_token() -> None:
    port = free_port()
    server = metrics.serve_separately("127.0.0.1", port, None)
    try:
        page = httpx.get(f"http://127.0.0.1:{port}/metrics")
        assert page.status_code == 200
        assert "patronauth_hash_seconds" in page.text
        assert httpx.get(f"http://127.0.0.1:{port}/other").status_code == 404
    finally:
        server.shutdown()
        server.server_close()
    port = free_port()
    server = metrics.serve_separately("127.0.0.1", port, METRICS_TOKEN)
    try:
        assert httpx.get(f"http://127.0.0.1:{port}/metrics").status_code == 401
        page = httpx.get(f"http://127.0.0.1:{port}/metrics", headers=METRICS_HEADERS)
        assert page.status_code == 200
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"PATRONAUTH_METRICS_ADDRESS": "127.0.0.1:9100"}, ("127.0.0.1", 9100)),
        ({"PATRONAUTH_METRICS_ADDRESS": "[::1]:9101"}, ("::1", 9101)),
        ({"PATRONAUTH_METRICS_ADDRESS": "9100"}, "host:port"),
        ({"PATRONAUTH_METRICS_ADDRESS": "127.0.0.1:0"}, "host:port"),
        ({"PATRONAUTH_METRICS_TOKEN": "short"}, "at least 32"),
        ({"PATRONAUTH_METRICS_TOKEN": "x" * 31 + "\u00e9"}, "at least 32"),
    ],
)
def test_metrics_settings(env: dict[str, str], expected: object) -> None:
    if isinstance(expected, tuple):
        assert Settings.from_env(env).metrics_address == expected
        return
    with pytest.raises(ConfigError, match=str(expected)):
        Settings.from_env(env)
