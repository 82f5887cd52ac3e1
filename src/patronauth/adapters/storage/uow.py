from __future__ import annotations

from types import TracebackType

from sqlalchemy import Connection, Engine, RootTransaction
from sqlalchemy.exc import SQLAlchemyError

from patronauth.adapters.storage.calls import SqlCalls
from patronauth.adapters.storage.catalogue import SqlCatalogue
from patronauth.adapters.storage.engine import read_options
from patronauth.adapters.storage.errors import storage_errors, translated
from patronauth.adapters.storage.fines import SqlFines
from patronauth.adapters.storage.holds import SqlHolds
from patronauth.adapters.storage.loans import SqlLoans
from patronauth.adapters.storage.registry import SqlRegistry
from patronauth.adapters.storage.repositories import (
    SqlAudit,
    SqlCredentials,
    SqlForcedChanges,
    SqlPatrons,
    SqlTemporaries,
)
from patronauth.adapters.storage.requests import SqlPatronRequests
from patronauth.adapters.storage.sessions import SqlActionTokens, SqlSessionRows
from patronauth.adapters.storage.signon import SqlSignOn
from patronauth.adapters.storage.staff import SqlStaff, SqlStaffSessions
from patronauth.adapters.storage.terminals import SqlTerminals
from patronauth.services.transactions import unit_closed, unit_opened


class SqlUnitOfWork:
    """One connection and one transaction; rolled back unless committed. While it is
    open the hasher refuses to run in this thread (see `services.transactions`).

    Audit records are written when the unit commits, after its other statements, and
    not at all when it does not: a unit whose one write is an audit record (a sign-in's
    outcome, a refusal) sends it alone (`SqlAudit.write_pending`)."""

    _conn: Connection
    _transaction: RootTransaction

    def __init__(self, engine: Engine, *, read_only: bool = False) -> None:
        self._engine = engine
        self._read_only = read_only

    def __enter__(self) -> SqlUnitOfWork:
        with storage_errors(self._engine):
            self._conn = self._engine.connect()
            if self._read_only:
                self._conn.execution_options(**read_options(self._engine))
            try:
                self._transaction = self._conn.begin()
            except BaseException:
                self._conn.close()
                raise
        self.patrons = SqlPatrons(self._conn)
        self.credentials = SqlCredentials(self._conn)
        self.temporaries = SqlTemporaries(self._conn)
        self.audit = SqlAudit(self._conn, pending=[])
        self.forced_changes = SqlForcedChanges(self._conn)
        self.registry = SqlRegistry(self._conn)
        self.action_tokens = SqlActionTokens(self._conn)
        self.sessions = SqlSessionRows(self._conn)
        self.catalogue = SqlCatalogue(self._conn)
        self.loans = SqlLoans(self._conn)
        self.holds = SqlHolds(self._conn)
        self.fines = SqlFines(self._conn)
        self.requests = SqlPatronRequests(self._conn)
        self.terminals = SqlTerminals(self._conn)
        self.staff = SqlStaff(self._conn)
        self.staff_sessions = SqlStaffSessions(self._conn)
        self.calls = SqlCalls(self._conn)
        self.sign_on = SqlSignOn(self._conn)
        unit_opened()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        error = exc if isinstance(exc, SQLAlchemyError) else None
        try:
            try:
                if self._transaction.is_active:
                    self._transaction.rollback()
            except SQLAlchemyError as failed:
                error = error or failed  # the connection is gone: the first failure is told
            meaning = translated(error, self._conn) if error is not None else None
        finally:
            unit_closed()
            self._conn.close()
        if meaning is not None:
            raise meaning from error
        if error is not None and exc is None:
            raise error

    def commit(self) -> None:
        with storage_errors(self._conn):
            self.audit.write_pending()
            self._transaction.commit()
