from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Engine, delete, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert

from patronauth.adapters.counters import StateCounter, T, Update, decode, encode
from patronauth.adapters.storage.tables import attempt_counters as table
from patronauth.domain.lockout import CounterState


class SqlAttemptCounter(StateCounter):
    """Shared by every process using the database; the row (or SQLite's write lock) serialises."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._postgres = engine.dialect.name == "postgresql"

    def _update(self, key: str, change: Update[T]) -> T:
        with self._engine.begin() as conn:
            if self._postgres:
                conn.execute(
                    pg_insert(table)
                    .values(key=key, state="{}", updated_at=datetime.now(UTC))
                    .on_conflict_do_nothing()
                )
                query = select(table.c.state).where(table.c.key == key).with_for_update()
            else:  # BEGIN IMMEDIATE already holds the database's write lock
                query = select(table.c.state).where(table.c.key == key)
            stored = conn.execute(query).scalar_one_or_none()
            before = decode(stored)
            state, result = change(before)
            if state.is_empty:
                if stored is not None:
                    conn.execute(delete(table).where(table.c.key == key))
            elif state != before or stored is None:
                values = {"state": encode(state), "updated_at": datetime.now(UTC)}
                if stored is None:
                    conn.execute(insert(table).values(key=key, **values))
                else:
                    conn.execute(update(table).where(table.c.key == key).values(**values))
            return result

    def _read(self, key: str) -> CounterState:
        with self._engine.connect() as conn:
            stored = conn.execute(
                select(table.c.state).where(table.c.key == key)
            ).scalar_one_or_none()
            return decode(stored)
