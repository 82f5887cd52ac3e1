"""Throwaway databases for one bench run: a SQLite file, and a PostgreSQL database and
a Redis database index on loopback when they are reachable."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from patronauth.adapters.storage import migrate
from patronauth.adapters.storage.engine import make_engine

POSTGRES_ADMIN_URL = os.environ.get(
    "PATRONAUTH_BENCH_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("PATRONAUTH_BENCH_REDIS", "redis://127.0.0.1:6379/14")


def _loopback(url: str) -> bool:
    host = make_url(url).host if "://" in url else None
    return host in {"127.0.0.1", "localhost", "::1"}


def postgres_reachable() -> str | None:
    """None when PostgreSQL answers on loopback, else why not."""
    if not _loopback(POSTGRES_ADMIN_URL):
        return "PATRONAUTH_BENCH_POSTGRES is not a loopback address"
    engine = create_engine(POSTGRES_ADMIN_URL, connect_args={"connect_timeout": 3})
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as error:
        return f"not reachable ({type(error).__name__})"
    finally:
        engine.dispose()
    return None


def redis_reachable() -> str | None:
    from redis import Redis

    if not REDIS_URL.startswith(("redis://127.0.0.1", "redis://localhost")):
        return "PATRONAUTH_BENCH_REDIS is not a loopback address"
    client = Redis.from_url(REDIS_URL, socket_connect_timeout=3)
    try:
        client.ping()
    except Exception as error:
        return f"not reachable ({type(error).__name__})"
    finally:
        client.close()
    return None


@contextmanager
def sqlite_database(directory: Path) -> Iterator[str]:
    path = directory / f"bench-{secrets.token_hex(4)}.db"
    url = f"sqlite:///{path}"
    engine = make_engine(url)
    migrate.upgrade(engine)
    engine.dispose()
    try:
        yield url
    finally:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)


@contextmanager
def postgres_database() -> Iterator[str]:
    name = f"patronauth_bench_{os.getpid()}_{secrets.token_hex(3)}"
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        url = make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
        engine = make_engine(url)
        migrate.upgrade(engine)
        engine.dispose()
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
