"""The JSON API in process: httpx over the whole ASGI application, on every database."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from patronauth.asgi import create
from patronauth.bootstrap import App
from tests.support import make_app, register, test_env


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _register_hkpl(app: App) -> App:
    register(
        app,
        "hkpl",
        "HKPL0001",
        name="Chan Tai Man",
        phone="9123 4567",
        email="chan@example.org",
        id_number="Z123456(1)",
    )
    return app


def _client(app: App) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=create(app))
    return httpx.AsyncClient(transport=transport, base_url="http://library.test")


@pytest.fixture
async def client(app: App) -> AsyncIterator[httpx.AsyncClient]:
    async with _client(app) as c:
        yield c


@pytest.fixture
def hkpl(app: App) -> App:
    """HKPL0001 at its defaults: password and PIN 4567 (R4)."""
    return _register_hkpl(app)


@pytest.fixture
def edge(sqlite_url: str, tmp_path: Path) -> Iterator[App]:
    """HKPL0001 on SQLite only, for what the HTTP edge decides before any use case runs
    (addresses, methods, headers, body size): no database could change those answers."""
    app = make_app(test_env(sqlite_url, tmp_path / "var"))
    yield _register_hkpl(app)
    app.close()


@pytest.fixture
async def edge_client(edge: App) -> AsyncIterator[httpx.AsyncClient]:
    async with _client(edge) as c:
        yield c
