from __future__ import annotations

from types import TracebackType

from sqlalchemy import Connection, Engine, RootTransaction

from patronauth.adapters.storage.catalogue import SqlCatalogue
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
from patronauth.adapters.storage.sessions import SqlActionTokens
from patronauth.adapters.storage.terminals import SqlTerminals


class SqlUnitOfWork:
    """One connection and one transaction; rolled back unless committed."""

    _conn: Connection
    _transaction: RootTransaction

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def __enter__(self) -> SqlUnitOfWork:
        self._conn = self._engine.connect()
        self._transaction = self._conn.begin()
        self.patrons = SqlPatrons(self._conn)
        self.credentials = SqlCredentials(self._conn)
        self.temporaries = SqlTemporaries(self._conn)
        self.audit = SqlAudit(self._conn)
        self.forced_changes = SqlForcedChanges(self._conn)
        self.registry = SqlRegistry(self._conn)
        self.action_tokens = SqlActionTokens(self._conn)
        self.catalogue = SqlCatalogue(self._conn)
        self.loans = SqlLoans(self._conn)
        self.holds = SqlHolds(self._conn)
        self.fines = SqlFines(self._conn)
        self.requests = SqlPatronRequests(self._conn)
        self.terminals = SqlTerminals(self._conn)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if self._transaction.is_active:
                self._transaction.rollback()
        finally:
            self._conn.close()

    def commit(self) -> None:
        self._transaction.commit()
