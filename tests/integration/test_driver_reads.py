"""The lookup with the standing, read on the driver's cursor (`storage/driver.py`, P4):
the same patron, card and facts as SQLAlchemy's execution gives, seen by the statement
listeners, and a failure the same refusal as any statement's."""

from __future__ import annotations

import time
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import bindparam, event, select, text
from sqlalchemy.exc import OperationalError

from patronauth.adapters.storage import tables as t
from patronauth.adapters.storage.driver import DriverQuery
from patronauth.adapters.storage.loans import _FOUND_WITH_STANDING, _facts
from patronauth.adapters.storage.repositories import identifier_from, patron_from
from patronauth.adapters.storage.uow import SqlUnitOfWork
from patronauth.bootstrap import App
from patronauth.domain.errors import StorageUnavailable
from patronauth.domain.identifiers import lockout_key
from tests.support import register

TODAY = date(2026, 12, 6)


def _one_patron(app: App) -> None:
    register(app, "hkpl", "HKPL0001", name="Chan Tai Man", phone="9123 4567")


def test_the_lookup_with_the_standing_runs_on_the_drivers_cursor(app: App) -> None:
    """SQLAlchemy does not execute it (no `before_execute`), its statement listeners
    still see it, and what it gives is what SQLAlchemy's execution of the same
    statement gives, value for value."""
    _one_patron(app)
    executed: list[object] = []
    sent: list[str] = []

    def before_execute(_conn: Any, clause: Any, *_: Any) -> None:
        executed.append(clause)

    def before_cursor_execute(_conn: Any, _cursor: Any, sql: str, *_: Any) -> None:
        sent.append(sql)

    key = lockout_key("HKPL0001")
    with app.ports.read() as uow:
        event.listen(app.engine, "before_execute", before_execute)
        event.listen(app.engine, "before_cursor_execute", before_cursor_execute)
        try:
            [(patron, card, facts)] = uow.loans.found_with_standing(key, TODAY)
        finally:
            event.remove(app.engine, "before_execute", before_execute)
            event.remove(app.engine, "before_cursor_execute", before_cursor_execute)
        conn = uow.loans.conn  # type: ignore[attr-defined]
        [row] = conn.execute(_FOUND_WITH_STANDING.statement, {"key": key, "today": TODAY})
    assert executed == []
    assert len(sent) == 1
    assert "lookup_key" in sent[0]
    assert patron == patron_from(row)
    assert card == identifier_from(row, "i_")
    assert facts == _facts(row)
    assert (patron.name, card.value) == ("Chan Tai Man", "HKPL0001")


def test_values_come_back_through_their_columns_types(app: App) -> None:
    """A date, a timestamp (`UTCDateTime`) and text, bound and read back as
    SQLAlchemy's rows have them, on either store's parameter style."""
    _one_patron(app)
    p = t.patrons
    query = DriverQuery(
        select(p.c.uid, p.c.registered_on, p.c.created_at).where(
            p.c.registered_on <= bindparam("today", type_=p.c.registered_on.type)
        )
    )
    with app.ports.read() as uow:
        conn = uow.loans.conn  # type: ignore[attr-defined]
        rows = query.rows(conn, {"today": TODAY})
        expected = conn.execute(query.statement, {"today": TODAY}).all()
    assert [tuple(r) for r in rows] == [tuple(r) for r in expected]
    [row] = rows
    assert isinstance(row.registered_on, date)
    assert row.created_at.tzinfo is not None  # UTCDateTime's own result processing
    assert row._mapping["uid"] == row.uid


def test_a_statement_rendered_at_each_execution_is_refused(app: App) -> None:
    """An IN list is expanded by SQLAlchemy at each execution: not for the cursor."""
    query = DriverQuery(select(t.patrons.c.id).where(t.patrons.c.uid.in_(["a", "b"])))
    with app.ports.read() as uow, pytest.raises(ValueError, match="as compiled"):
        query.rows(uow.loans.conn, {})  # type: ignore[attr-defined]


def test_a_lost_connection_is_the_same_refusal_and_tells_no_card(app: App) -> None:
    """The server ends the connection under a unit of work: the read fails as any
    statement would (`StorageUnavailable`), the card it looked for is in no message, the
    connection is not given out again, and the next unit of work reads."""
    if app.engine.dialect.name != "postgresql":
        pytest.skip("a server that ends a connection")
    _one_patron(app)
    key = lockout_key("HKPL0001")
    with (  # noqa: PT012 (the unit of work's exit turns the failure into the refusal)
        pytest.raises(StorageUnavailable) as refused,
        SqlUnitOfWork(app.engine, read_only=True) as uow,
    ):
        conn = uow.loans.conn  # type: ignore[attr-defined]
        pid = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
        with app.engine.connect() as admin:
            admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        time.sleep(0.2)
        uow.loans.found_with_standing(key, TODAY)
    assert isinstance(refused.value.__cause__, OperationalError)
    assert refused.value.__cause__.connection_invalidated
    assert key not in str(refused.value)
    assert key not in str(refused.value.__cause__)
    with app.ports.read() as uow:
        [(patron, _, _)] = uow.loans.found_with_standing(key, TODAY)
    assert patron.name == "Chan Tai Man"


def test_many_keys_read_together_give_what_each_alone_gives(app: App) -> None:
    """`found_with_standing_each` (quick requests that arrived together): one statement
    for every key, and for each key the rows `found_with_standing` gives it alone: a
    patron with loans (one overdue), one without, and a key no card has (no rows)."""
    _one_patron(app)
    register(app, "hkpl", "HKPL0002", name="Wong Siu Ming")
    with app.ports.uow() as uow:
        title = uow.catalogue.add_title("hkpl", "A title", "An author", None)
        patron = uow.patrons.find(lockout_key("HKPL0002"))[0][0]
        for copy, due in enumerate((TODAY - timedelta(days=3), TODAY + timedelta(days=10))):
            item = uow.catalogue.add_item(title.id, "hkpl", f"ITEM{copy}", "CEN")
            uow.loans.add_loan(patron.id, item, TODAY - timedelta(days=20), due)
        uow.commit()
    keys = [lockout_key(card) for card in ("HKPL0001", "HKPL0002", "HKPL9999")]
    sent: list[str] = []

    def before_cursor_execute(_conn: Any, _cursor: Any, sql: str, *_: Any) -> None:
        sent.append(sql)

    with app.ports.read() as uow:
        event.listen(app.engine, "before_cursor_execute", before_cursor_execute)
        try:
            together = uow.loans.found_with_standing_each(keys, TODAY)
        finally:
            event.remove(app.engine, "before_cursor_execute", before_cursor_execute)
        alone = {key: uow.loans.found_with_standing(key, TODAY) for key in keys}
    assert len(sent) == 1
    assert together == alone
    [(_, card, facts)] = together[keys[1]]
    assert (card.value, facts.loans, facts.overdue) == ("HKPL0002", 2, 1)
    assert together[keys[2]] == []
    with app.ports.read() as uow:
        assert uow.loans.found_with_standing_each([], TODAY) == {}
