"""SPEC 7: while the database does not answer, pages and the API say 503 with a reason
and when to retry, the command line exits with a clear message, nothing is half
written, and the service recovers by itself once the database is back."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from patronauth.adapters import metrics
from patronauth.adapters.storage.tables import patrons
from patronauth.asgi import create
from patronauth.bootstrap import App
from patronauth.domain.credentials import Outcome
from patronauth.domain.errors import StorageUnavailable
from patronauth.services.sessions import issue_token
from tests.cli.conftest import Cli, clean_env
from tests.servers import PrivatePostgres, free_port
from tests.support import attempt, make_app, register
from tests.support import test_env as deployment_env

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def unreachable() -> str:
    return f"postgresql://postgres@127.0.0.1:{free_port()}/patronauth"


@pytest.fixture
def down_app(tmp_path: Path) -> Iterator[App]:
    app = make_app(deployment_env(unreachable(), tmp_path / "var"))
    yield app
    app.close()


@pytest.fixture
async def down(down_app: App) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create(down_app))
    async with httpx.AsyncClient(transport=transport, base_url="https://library.test") as client:
        yield client


async def test_pages_answer_503_with_a_reason_in_the_visitors_language(
    down: httpx.AsyncClient, down_app: App
) -> None:
    errors = metrics.sample("patronauth_database_errors_total")
    token = issue_token(down_app.ports)  # well-formed, so it must be looked up
    down.cookies.set("__Host-patronauth-session", token, domain="library.test")
    english = await down.get("/hkpl/account")
    chinese = await down.get("/hkpl/account", headers={"Accept-Language": "zh-HK"})
    for page in (english, chinese):
        assert page.status_code == 503
        assert page.headers["Retry-After"] == "5"
        assert page.headers["content-type"].startswith("text/html")
    assert "account database is not answering" in english.text
    assert "圖書館的帳戶資料庫暫時沒有回應" in chinese.text
    assert metrics.sample("patronauth_database_errors_total") >= errors + 2


async def test_the_api_sign_in_answers_503_and_the_health_checks_say_why(
    down: httpx.AsyncClient,
) -> None:
    answer = await down.post("/api/v1/sessions", json={"identifier": "HKPL0001", "secret": "4567"})
    assert answer.status_code == 503
    assert answer.json()["error"] == "service_unavailable"
    assert answer.headers["Retry-After"] == "5"
    assert (await down.get("/livez")).status_code == 200  # the process itself is fine
    ready = await down.get("/readyz")
    assert ready.status_code == 503
    assert ready.json()["database"] == "down"


def test_the_command_line_exits_with_the_reason(tmp_path: Path) -> None:
    url = unreachable()
    cli = Cli(clean_env(url, tmp_path / "var"), url)
    run = cli("patron", "show", "HKPL0001")
    assert run.code == 1
    assert run.err.startswith("service.database_unavailable: The library's account database")
    as_json = cli("patron", "show", "HKPL0001", "--json")
    assert json.loads(as_json.out)["error"] == "service.database_unavailable"


@pytest.mark.postgres
async def test_the_service_recovers_by_itself_when_the_database_is_back(
    private_postgres: PrivatePostgres, tmp_path: Path
) -> None:
    app: App = make_app(deployment_env(private_postgres.url, tmp_path / "var"))
    register(app, "hkpl", "HKPL0001", phone="9123 4567")
    transport = httpx.ASGITransport(app=create(app))
    sign_in = {"identifier": "HKPL0001", "secret": "4567"}
    try:
        async with httpx.AsyncClient(transport=transport, base_url="https://t") as client:
            assert (await client.post("/api/v1/sessions", json=sign_in)).status_code == 201
            private_postgres.stop(immediate=True)  # the pooled connections die with it
            during = await client.post("/api/v1/sessions", json=sign_in)
            with pytest.raises(StorageUnavailable):
                register(app, "hkpl", "HKPL0002", phone="9876 5432")
            private_postgres.start()
            after = await client.post("/api/v1/sessions", json=sign_in)
            ready = await client.get("/readyz")
        assert during.status_code == 503
        assert after.status_code == 201, after.text  # the same process, no restart
        assert ready.status_code == 200
        # Nothing half-written: the registration during the outage left no patron.
        with app.engine.connect() as conn:
            assert conn.execute(select(func.count()).select_from(patrons)).scalar_one() == 1
        assert attempt(app, "HKPL0002", "5432").outcome is Outcome.INVALID
    finally:
        app.close()


@pytest.mark.postgres
async def test_every_connection_busy_is_a_503_too(postgres_url: str, tmp_path: Path) -> None:
    env = deployment_env(
        postgres_url,
        tmp_path / "var",
        PATRONAUTH_DB_POOL_SIZE="1",
        PATRONAUTH_DB_MAX_OVERFLOW="0",
        PATRONAUTH_DB_POOL_TIMEOUT="1",
    )
    app = make_app(env)
    transport = httpx.ASGITransport(app=create(app))
    try:
        async with httpx.AsyncClient(
            transport=transport, base_url="https://library.test"
        ) as client:
            with app.engine.connect():  # the pool's only connection, held
                answer = await client.post(
                    "/api/v1/sessions", json={"identifier": "HKPL0001", "secret": "4567"}
                )
                token = issue_token(app.ports)  # well-formed, so it must be looked up
                client.cookies.set("__Host-patronauth-session", token, domain="library.test")
                page = await client.get("/hkpl/account")
            released = await client.post(
                "/api/v1/sessions", json={"identifier": "NOBODY0001", "secret": "4567"}
            )
    finally:
        app.close()
    assert answer.status_code == 503
    assert answer.json()["error"] == "service_unavailable"
    assert page.status_code == 503
    assert page.headers["Retry-After"] == "5"
    assert released.status_code == 401  # the pool works again: an unknown card
