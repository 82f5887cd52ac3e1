"""Issue 9: database failures reach the use cases and the front ends as the service's own
errors, `StorageUnavailable` (try again shortly) and `SchemaMissing` (run `init`),
never as SQLAlchemy's; a missing table is told without reading the driver's text."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import make_url

from patronauth.adapters.counters.sql import SqlAttemptCounter
from patronauth.adapters.storage.engine import make_engine
from patronauth.adapters.storage.sessions import SqlSessionStore
from patronauth.asgi import create
from patronauth.domain.credentials import Channel
from patronauth.domain.errors import SchemaMissing, StorageUnavailable
from patronauth.domain.lockout import LockoutRule
from patronauth.services.authenticate import Attempt
from patronauth.services.sessions import issue_token
from patronauth.services.signin import sign_in
from tests.servers import free_port
from tests.support import make_app
from tests.support import test_env as deployment_env

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


ATTEMPT = Attempt("HKPL0001", "4567", Channel.WEB, institution="hkpl")


def test_an_unreachable_database_is_storage_unavailable_on_every_way_in(tmp_path: Path) -> None:
    engine = make_engine(f"postgresql://postgres@127.0.0.1:{free_port()}/patronauth")
    app = make_app(deployment_env(str(engine.url), tmp_path / "var"))
    try:
        with pytest.raises(StorageUnavailable) as down:
            sign_in(app.ports, ATTEMPT)
        assert down.value.detail  # the driver's first line, for operators
        assert "\n" not in down.value.detail
        with pytest.raises(StorageUnavailable):
            SqlSessionStore(engine).find("0" * 64)
        with pytest.raises(StorageUnavailable):
            SqlAttemptCounter(engine).admit("hkpl0001", 0.0, LockoutRule())
        with pytest.raises(StorageUnavailable), app.ports.uow():
            pass
    finally:
        engine.dispose()
        app.close()


def test_a_sqlite_database_without_tables_is_schema_missing(tmp_path: Path) -> None:
    app = make_app(deployment_env(f"sqlite:///{tmp_path / 'empty.db'}", tmp_path / "var"))
    try:
        with pytest.raises(SchemaMissing):
            sign_in(app.ports, ATTEMPT)
        with pytest.raises(SchemaMissing):
            app.ports.sessions.find("0" * 64)
        with pytest.raises(SchemaMissing):
            app.ports.counter.admit("hkpl0001", 0.0, LockoutRule())
    finally:
        app.close()


@pytest.mark.postgres
def test_a_postgresql_database_without_tables_is_schema_missing(
    postgres_url: str, tmp_path: Path
) -> None:
    elsewhere = make_url(postgres_url).update_query_dict(
        {"options": "-csearch_path=patronauth_no_such_schema"}
    )
    url = elsewhere.render_as_string(hide_password=False)
    app = make_app(deployment_env(url, tmp_path / "var"))
    try:
        with pytest.raises(SchemaMissing):
            sign_in(app.ports, ATTEMPT)
        with pytest.raises(SchemaMissing):
            app.ports.sessions.find("0" * 64)
    finally:
        app.close()


async def test_the_front_ends_answer_a_missing_schema_with_a_failure_not_a_retry(
    tmp_path: Path,
) -> None:
    """Waiting would not end it: a 500, no Retry-After (an outage gets 503, see
    test_database_down)."""
    app = make_app(deployment_env(f"sqlite:///{tmp_path / 'empty.db'}", tmp_path / "var"))
    transport = httpx.ASGITransport(app=create(app), raise_app_exceptions=False)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="https://library.test") as c:
            api = await c.post("/api/v1/sessions", json={"identifier": "HKPL0001", "secret": "1"})
            token = issue_token(app.ports)  # well-formed, so it must be looked up
            c.cookies.set("__Host-patronauth-session", token, domain="library.test")
            page = await c.get("/hkpl/account")
    finally:
        app.close()
    for answer in (api, page):
        assert answer.status_code == 500
        assert "Retry-After" not in answer.headers
    assert api.json()["error"] == "internal_error"
