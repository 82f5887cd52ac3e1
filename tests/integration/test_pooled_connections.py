"""A pooled PostgreSQL connection that the server has ended (a restart, a terminated
backend) is replaced before use: the first unit of work afterwards succeeds, without a
round trip to the server at every checkout (`engine._still_connected`)."""

from __future__ import annotations

import time

import psycopg
import pytest
from sqlalchemy import text

from patronauth.adapters.storage.engine import make_engine

pytestmark = pytest.mark.postgres


def _backend(engine: object) -> int:
    with engine.connect() as conn:  # type: ignore[attr-defined]
        return int(conn.execute(text("SELECT pg_backend_pid()")).scalar_one())


def test_a_connection_the_server_ended_is_replaced_before_use(postgres_url: str) -> None:
    engine = make_engine(postgres_url, pool_size=1, max_overflow=0)
    admin = make_engine(postgres_url, pool_size=1, max_overflow=0)
    try:
        before = _backend(engine)
        with admin.connect() as conn:
            assert conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": before}).scalar()
        time.sleep(0.2)  # the server's goodbye reaches the idle pooled socket
        after = _backend(engine)  # would fail with the ended connection
        assert after != before
    finally:
        engine.dispose()
        admin.dispose()


def test_a_live_pooled_connection_is_checked_out_without_a_round_trip(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = make_engine(postgres_url, pool_size=1, max_overflow=0)
    sent: list[str] = []
    execute = psycopg.Cursor.execute

    def counted(
        cursor: psycopg.Cursor[object], query: object, *args: object, **kw: object
    ) -> object:
        sent.append(str(query))
        return execute(cursor, query, *args, **kw)  # type: ignore[arg-type]

    try:
        first = _backend(engine)
        monkeypatch.setattr(psycopg.Cursor, "execute", counted)
        assert _backend(engine) == first  # the same connection, still good
        assert sent == ["SELECT pg_backend_pid()"]  # and nothing sent before it (a ping)
    finally:
        engine.dispose()


def test_a_read_unit_of_work_opens_no_transaction_on_postgresql(postgres_url: str) -> None:
    """At READ COMMITTED each statement reads its own snapshot anyway: a read-only
    transaction would only add BEGIN and ROLLBACK, two round trips."""
    from patronauth.adapters.storage.uow import SqlUnitOfWork

    engine = make_engine(postgres_url, pool_size=1, max_overflow=0)
    try:
        with SqlUnitOfWork(engine, read_only=True) as uow:
            uow.terminals.get("kiosk-none")
            raw = uow._conn.connection.dbapi_connection
            assert raw is not None
            assert raw.info.transaction_status is psycopg.pq.TransactionStatus.IDLE
        with SqlUnitOfWork(engine) as uow:  # a unit of work that may write: one transaction
            uow.terminals.get("kiosk-none")
            raw = uow._conn.connection.dbapi_connection
            assert raw is not None
            assert raw.info.transaction_status is psycopg.pq.TransactionStatus.INTRANS
    finally:
        engine.dispose()
