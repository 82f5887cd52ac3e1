"""P4: a patron status without PIN only reads: on SQLite it begins no transaction (each
of its statements reads a snapshot of its own, as on PostgreSQL) and is answered while
another process holds the database's write lock."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.dialects import postgresql, sqlite

from patronauth.adapters.storage.loans import _FOUND_WITH_STANDING, _STANDING
from patronauth.bootstrap import App
from patronauth.sip2.server import Sip2Server
from tests.sip2.conftest import connect, only_reads, patron_status, sqlite_write_locked


def test_a_status_without_pin_takes_no_write_lock(library: App, server: Sip2Server) -> None:
    with connect(server) as terminal, sqlite_write_locked(library) as statements:
        answer = terminal.ask(patron_status(pin=None))
    assert answer.startswith(b"24")
    assert b"AAHKPL0001|" in answer
    assert statements
    assert only_reads(statements)


def test_a_status_without_pin_reads_the_patron_and_the_standing_in_one_statement(
    library: App, server: Sip2Server
) -> None:
    """P4: the lookup by card and the lending standing are one SELECT (one round trip
    to PostgreSQL), and nothing else reads the loans."""
    statements: list[str] = []

    def seen(_conn: Any, _cursor: Any, sql: str, *_: Any) -> None:
        statements.append(sql)

    with connect(server) as terminal:
        assert terminal.ask(patron_status(pin=None)).startswith(b"24")  # terminal read
        event.listen(library.engine, "before_cursor_execute", seen)
        try:
            answer = terminal.ask(patron_status(pin=None))
        finally:
            event.remove(library.engine, "before_cursor_execute", seen)
    assert answer.startswith(b"24")
    assert b"AAHKPL0001|" in answer
    lookups = [s for s in statements if "lookup_key" in s]
    assert len(lookups) == 1
    for table in ("loans", "fines", "payments", "holds", "closures"):
        assert table in lookups[0]
    assert [s for s in statements if "loans" in s] == lookups


def test_a_status_with_pin_reads_the_standing_with_the_card_after_the_sign_in(
    library: App, server: Sip2Server
) -> None:
    """With a PIN the one sign-in looks the card up and checks the PIN; the patron and
    the standing are then read in one statement (not the card before the sign-in, and
    the standing after it, each on its own)."""
    statements: list[str] = []

    def seen(_conn: Any, _cursor: Any, sql: str, *_: Any) -> None:
        statements.append(sql)

    with connect(server) as terminal:
        assert terminal.ask(patron_status()).startswith(b"24")  # terminal read
        event.listen(library.engine, "before_cursor_execute", seen)
        try:
            answer = terminal.ask(patron_status())
        finally:
            event.remove(library.engine, "before_cursor_execute", seen)
    assert b"|CQY|" in answer
    lookups = [n for n, s in enumerate(statements) if "lookup_key" in s]
    assert len(lookups) == 2  # the sign-in's, then the answer's
    assert any(s.startswith("INSERT INTO audit_events") for s in statements[: lookups[1]])
    assert [s for s in statements if "loans" in s] == [statements[lookups[1]]]


@pytest.mark.parametrize(
    "statement", [_FOUND_WITH_STANDING.statement, _STANDING], ids=["found", "standing"]
)
@pytest.mark.parametrize(
    "dialect", [postgresql.psycopg.dialect(), sqlite.dialect()], ids=["postgresql", "sqlite"]
)
def test_the_standings_statements_render_nothing_at_each_execution(
    statement: Any, dialect: Any
) -> None:
    """SQLAlchemy renders a literal-execute parameter into the statement's text anew at
    every execution (`aggregate_strings` binds its separator so): the standing's, read
    by every 23, keeps its text as compiled."""
    compiled = statement.compile(dialect=dialect)
    assert not compiled.literal_execute_params
    assert "POSTCOMPILE" not in compiled.string
