from __future__ import annotations

from collections.abc import Callable, Collection
from datetime import UTC, datetime

from sqlalchemy import Engine, bindparam, delete, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert

from patronauth.adapters.counters import StateCounter, T, Update, decode, encode
from patronauth.adapters.storage.errors import begin, connect
from patronauth.adapters.storage.tables import attempt_counters as table
from patronauth.domain.lockout import CounterState

# Built once: every attempt runs them twice (P1).
_READ = select(table.c.state).where(table.c.key == bindparam("b_key"))
_READ_LOCKED = _READ.with_for_update()
_ENSURE_ROW = (
    pg_insert(table)
    .values(key=bindparam("b_key"), state="{}", updated_at=bindparam("b_now"))
    .on_conflict_do_nothing()
)
_INSERT = insert(table)
_UPDATE = (
    update(table)
    .where(table.c.key == bindparam("b_key"))
    .values(state=bindparam("b_state"), updated_at=bindparam("b_now"))
)
_DELETE = delete(table).where(table.c.key == bindparam("b_key"))
_KEYS = select(table.c.key)
# Many patron status requests at once: the counts of their cards in one statement.
_READ_EACH = select(table.c.key, table.c.state).where(
    table.c.key.in_(bindparam("b_keys", expanding=True))
)


class SqlAttemptCounter(StateCounter):
    """Shared by every process using the database; the row (or SQLite's write lock) serialises."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._postgres = engine.dialect.name == "postgresql"

    def _update(self, key: str, change: Update[T]) -> T:
        now = datetime.now(UTC)
        with begin(self._engine) as conn:
            if self._postgres:
                stored = None
                # Another transaction may delete the row between the two statements (its
                # count ended): ensure it again, or inserting it below would collide with
                # a third transaction's new row.
                for _ in range(5):
                    conn.execute(_ENSURE_ROW, {"b_key": key, "b_now": now})
                    stored = conn.execute(_READ_LOCKED, {"b_key": key}).scalar_one_or_none()
                    if stored is not None:
                        break
            else:  # BEGIN IMMEDIATE already holds the database's write lock
                stored = conn.execute(_READ, {"b_key": key}).scalar_one_or_none()
            before = decode(stored)
            state, result = change(before)
            if state.is_empty:
                if stored is not None:
                    conn.execute(_DELETE, {"b_key": key})
            elif stored is None:
                conn.execute(_INSERT, {"key": key, "state": encode(state), "updated_at": now})
            elif state != before:
                conn.execute(_UPDATE, {"b_key": key, "b_state": encode(state), "b_now": now})
            return result

    def _read(self, key: str) -> CounterState:
        with connect(self._engine) as conn:
            return decode(conn.execute(_READ, {"b_key": key}).scalar_one_or_none())

    def _read_each(self, keys: Collection[str]) -> dict[str, CounterState]:
        states = {key: CounterState() for key in keys}
        if states:
            with connect(self._engine) as conn:
                for key, stored in conn.execute(_READ_EACH, {"b_keys": list(states)}):
                    states[key] = decode(stored)
        return states

    def keys(self) -> list[str]:
        """The identifiers with a count here (few: the SQL store backs Redis up)."""
        with self._engine.connect() as conn:
            return list(conn.execute(_KEYS).scalars())

    def move(self, key: str, into: Callable[[CounterState], None]) -> None:
        """Hand the count of `key` to `into` and delete it, in one transaction: a count
        is deleted only once `into` has returned, and two movers never both take it."""
        with self._engine.begin() as conn:
            read = _READ_LOCKED if self._postgres else _READ
            stored = conn.execute(read, {"b_key": key}).scalar_one_or_none()
            if stored is None:
                return
            state = decode(stored)
            if not state.is_empty:
                into(state)
            conn.execute(_DELETE, {"b_key": key})
