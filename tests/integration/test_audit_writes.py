"""Audit records are written when their unit of work commits, with its other writes,
and not at all when it does not; one record alone goes to PostgreSQL in one round trip
(P1: a sign-in's outcome was `BEGIN`, `INSERT` and `COMMIT`)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import psycopg
import pytest
from sqlalchemy import func, select

from patronauth.adapters.storage import tables as t
from patronauth.bootstrap import App
from patronauth.services.interfaces import AuditEvent

NOW = datetime(2026, 12, 5, 22, 0, tzinfo=UTC)


def event(outcome: str) -> AuditEvent:
    return AuditEvent(at=NOW, action="sign_in", outcome=outcome, actor="patron", channel="app")


def outcomes(app: App) -> list[str]:
    with app.engine.connect() as conn:
        found = conn.execute(select(t.audit_events.c.outcome).order_by(t.audit_events.c.id))
        return list(found.scalars())


@contextmanager
def sent_to_postgresql(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """What the driver sends from now on, one entry a round trip: statements, and the
    commands SQLAlchemy does not show (`BEGIN`, `COMMIT`, `ROLLBACK`)."""
    sent: list[str] = []
    execute, command = psycopg.Cursor.execute, psycopg.Connection._exec_command

    def executing(cursor: psycopg.Cursor[Any], query: Any, *args: Any, **kw: Any) -> Any:
        sent.append(str(query).split()[0].upper())
        return execute(cursor, query, *args, **kw)

    def commanding(conn: psycopg.Connection[Any], text: Any, *args: Any, **kw: Any) -> Any:
        raw = text if isinstance(text, bytes) else str(text).encode()
        sent.append(raw.decode().split()[0].upper())
        return command(conn, text, *args, **kw)

    monkeypatch.setattr(psycopg.Cursor, "execute", executing)
    monkeypatch.setattr(psycopg.Connection, "_exec_command", commanding)
    yield sent


@pytest.fixture
def postgres_app(app: App) -> App:
    """The app on PostgreSQL, its engine's first connection (and set-up) made."""
    if app.engine.dialect.name != "postgresql":
        pytest.skip("round trips are PostgreSQL's")
    assert outcomes(app) == []
    return app


@pytest.mark.postgres
def test_a_lone_audit_record_is_one_round_trip_on_postgresql(
    postgres_app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = postgres_app
    with sent_to_postgresql(monkeypatch) as sent, app.ports.uow() as uow:
        uow.audit.record(event("ok"))
        uow.commit()
    assert sent == ["INSERT"]
    assert outcomes(app) == ["ok"]
    with app.engine.connect() as conn:  # the connection went back to the pool as it was
        driver = conn.connection.driver_connection
        assert driver is not None
        assert not driver.autocommit


def test_an_audit_record_is_written_with_the_units_other_writes(app: App) -> None:
    with app.ports.uow() as uow:
        uow.audit.record(event("ok"))
        uow.audit.record_counted(event("blocked"))
        uow.commit()
    assert sorted(outcomes(app)) == ["blocked", "ok"]


@pytest.mark.postgres
def test_with_another_write_the_record_is_in_the_same_transaction(
    postgres_app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    with sent_to_postgresql(monkeypatch) as sent, postgres_app.ports.uow() as uow:
        uow.audit.record_counted(event("blocked"))
        uow.audit.record(event("ok"))
        uow.commit()
    # (the driver sends BEGIN from inside the first statement's execute)
    assert sorted(sent) == ["BEGIN", "COMMIT", "INSERT", "INSERT"]


def test_a_unit_that_does_not_commit_writes_no_audit_record(app: App) -> None:
    def failing() -> None:
        with app.ports.uow() as uow:
            uow.audit.record(event("ok"))
            uow.audit.record_counted(event("blocked"))
            raise RuntimeError("the use case failed after recording")

    with pytest.raises(RuntimeError):
        failing()
    with app.ports.uow() as uow:
        uow.audit.record(event("invalid"))  # not committed either
    assert outcomes(app) == []


def test_two_records_alone_are_written_together(app: App) -> None:
    with app.ports.uow() as uow:
        uow.audit.record(event("invalid"))
        uow.audit.record(event("blocked"))
        uow.commit()
    assert outcomes(app) == ["invalid", "blocked"]
    with app.engine.connect() as conn:
        count = conn.execute(select(func.count()).select_from(t.audit_events)).scalar_one()
    assert count == 2
