"""The telephone line's calls in SQL: one row per call, its turn token taken atomically."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from patronauth.adapters.storage import tables as t
from patronauth.services.interfaces import StoredCall

_C = t.telephone_calls


def _call(row: Row[Any]) -> StoredCall:
    return StoredCall(
        platform=row.platform,
        call_id=row.call_id,
        institution=row.institution,
        state=row.state,
        turn=row.turn,
        started_at=row.started_at,
        updated_at=row.updated_at,
        ended_at=row.ended_at,
    )


class SqlCalls:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(
        self, platform: str, call_id: str, institution: str, state: str, turn: str, at: datetime
    ) -> bool:
        try:
            with self.conn.begin_nested():
                self.conn.execute(
                    insert(_C).values(
                        platform=platform,
                        call_id=call_id,
                        institution=institution,
                        state=state,
                        turn=turn,
                        started_at=at,
                        updated_at=at,
                    )
                )
        except IntegrityError:
            return False
        return True

    def get(self, platform: str, call_id: str) -> StoredCall | None:
        row = self.conn.execute(
            select(_C).where(_C.c.platform == platform, _C.c.call_id == call_id)
        ).first()
        return _call(row) if row else None

    def take_turn(self, platform: str, call_id: str, turn: str, new_turn: str) -> bool:
        done = self.conn.execute(
            update(_C)
            .where(
                _C.c.platform == platform,
                _C.c.call_id == call_id,
                _C.c.turn == turn,
                _C.c.ended_at.is_(None),
            )
            .values(turn=new_turn)
        )
        return done.rowcount == 1

    def save(self, platform: str, call_id: str, state: str, at: datetime, *, ended: bool) -> None:
        values: dict[str, Any] = {"state": state, "updated_at": at}
        if ended:
            values.update(state="", turn="", ended_at=at)
        self.conn.execute(
            update(_C).where(_C.c.platform == platform, _C.c.call_id == call_id).values(**values)
        )

    def purge(self, before: datetime) -> int:
        done = self.conn.execute(delete(_C).where(_C.c.updated_at < before))
        return int(done.rowcount)
