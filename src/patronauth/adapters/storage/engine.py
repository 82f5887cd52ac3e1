"""Engines for SQLite (the embedded default) and PostgreSQL (production)."""

from __future__ import annotations

import os
import select
from pathlib import Path
from typing import Any

from psycopg.pq import ConnStatus
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import ExceptionContext, make_url
from sqlalchemy.exc import ArgumentError, DisconnectionError, OperationalError
from sqlalchemy.pool import QueuePool

from patronauth.adapters import metrics
from patronauth.adapters.config import ConfigError

CONNECT_TIMEOUT_SECONDS = 5
# The execution option of a connection that only reads (see `_sqlite_engine`).
READ_ONLY = "patronauth_read_only"


def read_options(engine: Engine) -> dict[str, Any]:
    """The execution options of a connection that only reads: no transaction at all,
    on either store. At READ COMMITTED, PostgreSQL's default and the level used here,
    each statement reads a snapshot of its own inside a transaction too, so a read-only
    transaction would only add two round trips, BEGIN and ROLLBACK (P4: a SIP2 status
    answer is two reads); PostgreSQL runs the connection in autocommit. SQLite is in
    autocommit already (the driver's own transaction handling is off, `_sqlite_engine`),
    and its `begin` event issues no BEGIN for such a connection: each statement reads a
    snapshot of its own beside the writer, as on PostgreSQL."""
    if engine.dialect.name == "postgresql":
        return {READ_ONLY: True, "isolation_level": "AUTOCOMMIT"}
    return {READ_ONLY: True}


def normalise_url(url: str) -> str:
    """`postgresql://` means psycopg 3 here; SQLite paths get their folder created."""
    parsed = make_url(url)
    if parsed.drivername in {"postgresql", "postgres"}:
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def make_engine(
    url: str, *, pool_size: int = 10, max_overflow: int = 10, pool_timeout: float = 10
) -> Engine:
    """An engine for `url`; a URL SQLAlchemy cannot use is a `ConfigError`."""
    try:
        url = normalise_url(url)
        parsed = make_url(url)
        if parsed.get_backend_name() == "sqlite":
            engine = _sqlite_engine(url, parsed.database)
        else:
            engine = _postgres_engine(url, pool_size, max_overflow, pool_timeout)
    except ArgumentError as error:
        raise ConfigError(f"PATRONAUTH_DATABASE_URL: {error}") from None
    event.listen(engine, "handle_error", _count_error)
    return engine


def _count_error(context: ExceptionContext) -> None:
    count_error(context.sqlalchemy_exception, lost=context.is_disconnect)


def count_error(error: BaseException | None, *, lost: bool) -> None:
    """Counts unavailability only (lost, refused, timed out): not a refused constraint.
    Also for the reads run on the driver's cursor (`driver.py`)."""
    if lost or isinstance(error, OperationalError):
        metrics.DATABASE_ERRORS.inc()


def _postgres_engine(url: str, pool_size: int, max_overflow: int, pool_timeout: float) -> Engine:
    engine = create_engine(
        url,
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_timeout=pool_timeout,
        hide_parameters=True,  # errors and logs never show stored hashes or personal data
        # An unreachable server is an error after a few seconds, not a long hang.
        connect_args={"connect_timeout": CONNECT_TIMEOUT_SECONDS},
        pool_recycle=1800,
    )
    event.listen(engine, "checkout", _still_connected)
    return engine


def _still_connected(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
    """A pooled connection that the server has ended is replaced before use, so the
    service recovers by itself once a restarted database is back.

    A server that ends a connection (a restart, a stop, a terminated backend) says so
    on the socket: its last message, then the close. Nothing else arrives on an idle
    connection here (no LISTEN), so an idle socket with something to read is a
    connection that is gone. Looking costs a system call, where SQLAlchemy's
    `pool_pre_ping` is a round trip to the server at every checkout (P4: one of four
    per SIP2 status answer). `DisconnectionError` makes the pool discard the
    connection and check out another (or connect anew)."""
    try:
        pgconn = dbapi_connection.pgconn
        ended = pgconn.status != ConnStatus.OK or bool(select.select([pgconn.socket], [], [], 0)[0])
    except Exception:  # a closed connection has no socket to look at
        ended = True
    if ended:
        raise DisconnectionError("the server ended this pooled connection")


def _sqlite_engine(url: str, database: str | None) -> Engine:
    if database and database != ":memory:":
        # The folder itself (var/) is made; a mistyped path deeper down is an error.
        Path(database).parent.mkdir(exist_ok=True)
        _create_private(Path(database))
    # SQLite lets one writer in at a time. One pooled connection per process makes the
    # threads of a process queue for it and wake at once, instead of sleeping in SQLite's
    # busy handler (1, 2, 5, 10 ... ms) while another thread holds the write lock.
    pooling: dict[str, Any] = {}
    if database and database != ":memory:":
        pooling = {"poolclass": QueuePool, "pool_size": 1, "max_overflow": 0, "pool_timeout": 30}
    engine = create_engine(
        url,
        connect_args={"timeout": 30, "check_same_thread": False},
        hide_parameters=True,
        **pooling,
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # The driver's own transaction handling is switched off so that every
        # transaction starts with BEGIN IMMEDIATE: writers queue on the lock instead
        # of failing with SQLITE_BUSY when a read transaction turns into a write.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # A unit of work that only reads begins no transaction (see `read_options`):
        # in WAL mode each statement reads a snapshot beside the writer, never queueing
        # for the write lock (P4). One that writes begins IMMEDIATE.
        if not connection.get_execution_options().get(READ_ONLY, False):
            connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def _create_private(path: Path) -> None:
    """A new database file is readable by its owner only (0600): it holds the hashes,
    the keyed digests and the audit trail. SQLite gives its -wal and -shm files the
    database file's permissions. An existing file keeps the mode it has."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    os.close(fd)
