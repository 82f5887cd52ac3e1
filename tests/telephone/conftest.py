"""The telephone line over the whole ASGI application, as each platform calls it: signed
TwiML webhooks and signed VoiceXML fetches, on every database."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from patronauth.asgi import create
from patronauth.bootstrap import App
from tests.support import make_app, test_env
from tests.telephone.callers import TWILIO_TOKEN, VOICEXML_SECRET


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def line_env(database_url: str, var_dir: Path) -> dict[str, str]:
    return test_env(
        database_url,
        var_dir,
        PATRONAUTH_TWILIO_AUTH_TOKEN=TWILIO_TOKEN,
        PATRONAUTH_VOICEXML_SECRET=VOICEXML_SECRET,
        PATRONAUTH_PUBLIC_URL="https://library.test",
    )


@pytest.fixture
def line(database_url: str, tmp_path: Path) -> Iterator[App]:
    app = make_app(line_env(database_url, tmp_path / "var"))
    yield app
    app.close()


@pytest.fixture
def edge(sqlite_url: str, tmp_path: Path) -> Iterator[App]:
    """SQLite only, for what the HTTP edge decides before any use case runs."""
    app = make_app(line_env(sqlite_url, tmp_path / "var"))
    yield app
    app.close()


def client_of(app: App) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=create(app))
    return httpx.AsyncClient(transport=transport, base_url="https://library.test")


@pytest.fixture
async def client(line: App) -> AsyncIterator[httpx.AsyncClient]:
    async with client_of(line) as c:
        yield c


@pytest.fixture
async def edge_client(edge: App) -> AsyncIterator[httpx.AsyncClient]:
    async with client_of(edge) as c:
        yield c
