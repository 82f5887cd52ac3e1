"""A read that is run very often, on the driver's own cursor (P4).

A SIP2 status request without PIN is one SELECT: the card, its patron and the patron's
lending standing (`loans.SqlLoans.found_with_standing`). Through SQLAlchemy's
execution (its execution context, a result with its keymap, a row object per row) it
took 140-150 us of the answering process's CPU on PostgreSQL, where the same compiled
SQL on psycopg's cursor took 50 us, 74 us with the cursor's description; on the
cursor the whole answer takes a fifth less CPU (`docs/performance.md`). `DriverQuery`
keeps what SQLAlchemy gives such a read and leaves the rest out:

- the statement is compiled by SQLAlchemy, once per dialect, and its parameters are
  the compiled statement's own (`construct_params`), each through its type's bind
  processor;
- each value comes back through its column type's result processor, as in
  SQLAlchemy's rows; a row is a named tuple with the same names (and `_mapping`);
- listeners of `before_cursor_execute` and `after_cursor_execute` see the statement
  (the tests and `bench/counts.py` count statements so);
- a driver error is SQLAlchemy's `DBAPIError` for it, a lost connection is
  invalidated, and an unavailable database is counted, so that the unit of work
  turns it into the same refusal as any other statement's (`errors.translated`).
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, Select
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError, StatementError

from patronauth.adapters.storage.engine import count_error


class _Compiled:
    def __init__(self, statement: Select[Any], dialect: Dialect) -> None:
        compiled = statement.compile(dialect=dialect)
        if compiled.literal_execute_params or compiled.post_compile_params:
            # Rendered into the text at each execution by SQLAlchemy (an IN list, a
            # literal): not a statement for the driver's cursor as compiled.
            raise ValueError("a DriverQuery's statement must keep its text as compiled")
        self.compiled = compiled
        self.sql = compiled.string
        self.positional = compiled.positiontup  # None for named parameters
        # The types' processors, where they have one (as SQLAlchemy applies them).
        bound = {
            name: bind.type.dialect_impl(dialect).bind_processor(dialect)
            for name, bind in compiled.binds.items()
        }
        self.bound = {name: process for name, process in bound.items() if process is not None}
        columns = list(statement.selected_columns)
        results = [c.type.dialect_impl(dialect).result_processor(dialect, None) for c in columns]
        self.converted = [(i, process) for i, process in enumerate(results) if process]
        self.row = _row_type([str(column.key) for column in columns])

    def parameters(self, values: Mapping[str, Any]) -> Any:
        params = self.compiled.construct_params(dict(values))
        for name, process in self.bound.items():
            params[name] = process(params[name])
        if self.positional is None:
            return params
        return [params[name] for name in self.positional]


def _row_type(names: list[str]) -> type:
    base = namedtuple("DriverRow", names)  # type: ignore[misc]

    class DriverRow(base):
        """A row by name or by attribute, as SQLAlchemy's `Row` is read here."""

        __slots__ = ()

        @property
        def _mapping(self) -> dict[str, Any]:
            return self._asdict()

    return DriverRow


class DriverQuery:
    """`statement` run on the cursor of the connection a unit of work holds."""

    def __init__(self, statement: Select[Any]) -> None:
        self.statement = statement
        self._compiled: dict[str, _Compiled] = {}

    def _for(self, dialect: Dialect) -> _Compiled:
        compiled = self._compiled.get(dialect.name)
        if compiled is None:  # a race compiles it twice, to the same
            compiled = self._compiled[dialect.name] = _Compiled(self.statement, dialect)
        return compiled

    def rows(self, conn: Connection, values: Mapping[str, Any]) -> list[Any]:
        """The statement's rows for `values` (its bound parameters by name)."""
        compiled = self._for(conn.dialect)
        params = compiled.parameters(values)
        raw = conn.connection.dbapi_connection
        assert raw is not None
        cursor = raw.cursor()
        try:
            conn.dispatch.before_cursor_execute(conn, cursor, compiled.sql, params, None, False)
            cursor.execute(compiled.sql, params)
            fetched = cursor.fetchall()
            conn.dispatch.after_cursor_execute(conn, cursor, compiled.sql, params, None, False)
        except conn.dialect.loaded_dbapi.Error as error:
            raise _wrapped(conn, raw, cursor, compiled.sql, error) from error
        finally:
            cursor.close()
        rows = []
        for values_in_row in fetched:
            row = list(values_in_row)
            for i, process in compiled.converted:
                row[i] = process(row[i])
            rows.append(compiled.row(*row))
        return rows


def _wrapped(conn: Connection, raw: Any, cursor: Any, sql: str, error: Any) -> StatementError:
    dialect = conn.dialect
    lost = dialect.is_disconnect(error, raw, cursor)
    if lost:
        conn.invalidate(error)
    wrapped: StatementError = DBAPIError.instance(
        sql,
        None,  # the parameters hold personal data: never in an error
        error,
        dialect.loaded_dbapi.Error,
        hide_parameters=True,
        connection_invalidated=lost,
        dialect=dialect,
    )
    count_error(wrapped, lost=lost)
    return wrapped
