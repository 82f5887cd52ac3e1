"""Database failures as the use cases and front ends know them.

Every way into the database (the unit of work, the session and counter stores) turns a
driver or pool failure into `StorageUnavailable` or `SchemaMissing`, so that no
SQLAlchemy exception reaches a front end. A missing table is told by the server's
error code (PostgreSQL's 42P01) or by asking the database for its tables (SQLite has
no code for it), never by reading the message text.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, Engine, inspect
from sqlalchemy.exc import DBAPIError, OperationalError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from patronauth.adapters.storage.engine import read_options
from patronauth.adapters.storage.tables import patrons
from patronauth.domain.errors import SchemaMissing, StorageUnavailable

UNDEFINED_TABLE = "42P01"  # PostgreSQL's SQLSTATE


def translated(error: SQLAlchemyError, bind: Engine | Connection) -> Exception | None:
    """What `error` means to the service, or None for an error of the code itself (a
    refused constraint, a wrong statement), which stays as it is."""
    if isinstance(error, PoolTimeout):
        return StorageUnavailable("every database connection is busy")
    if not isinstance(error, DBAPIError):
        return None
    if getattr(error.orig, "sqlstate", None) == UNDEFINED_TABLE:
        return SchemaMissing()
    if not isinstance(error, OperationalError) and not error.connection_invalidated:
        return None
    if bind.dialect.name == "sqlite" and not _has_schema(bind):
        return SchemaMissing()
    return StorageUnavailable(_first_line(error))


def _has_schema(bind: Engine | Connection) -> bool:
    try:
        if isinstance(bind, Engine):
            with bind.connect() as conn:
                return inspect(conn).has_table(patrons.name)
        return inspect(bind).has_table(patrons.name)
    except SQLAlchemyError:
        return True  # it does not answer: unavailable, whatever it holds


def _first_line(error: DBAPIError) -> str:
    lines = str(error.orig).strip().splitlines() if error.orig is not None else []
    return lines[0] if lines else type(error).__name__


@contextmanager
def storage_errors(bind: Engine | Connection) -> Iterator[None]:
    """Around a use of the database: of an engine whose connection is given back before
    the block ends, or of a connection held."""
    try:
        yield
    except SQLAlchemyError as error:
        meaning = translated(error, bind)
        if meaning is None:
            raise
        raise meaning from error


@contextmanager
def begin(engine: Engine) -> Iterator[Connection]:
    """`engine.begin()`, its failures translated once its connection is given back."""
    with storage_errors(engine), engine.begin() as conn:
        yield conn


@contextmanager
def connect(engine: Engine) -> Iterator[Connection]:
    """`engine.connect()` for reads only (on SQLite it does not take the write lock),
    its failures translated once its connection is given back."""
    with storage_errors(engine), engine.connect() as conn:
        yield conn.execution_options(**read_options(engine))
