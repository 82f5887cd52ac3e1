"""Reservations in SQL."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, Row, insert, select, update

from patronauth.adapters.storage import tables as t
from patronauth.domain.circulation import ACTIVE_HOLDS, Hold, HoldStatus

_ACTIVE = [s.value for s in ACTIVE_HOLDS]


def _hold(row: Row[Any]) -> Hold:
    return Hold(
        id=row.id,
        patron_id=row.patron_id,
        title_id=row.title_id,
        pickup=row.pickup,
        placed_at=row.placed_at,
        status=HoldStatus(row.status),
        item_id=row.item_id,
        ready_until=row.ready_until,
    )


class SqlHolds:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def holds_of_patron(self, patron_id: int) -> list[Hold]:
        h = t.holds
        rows = self.conn.execute(
            select(h).where(h.c.patron_id == patron_id, h.c.status.in_(_ACTIVE)).order_by(h.c.id)
        )
        return [_hold(r) for r in rows]

    def hold_queue(self, title_id: int) -> list[Hold]:
        h = t.holds
        rows = self.conn.execute(
            select(h)
            .where(h.c.title_id == title_id, h.c.status.in_(_ACTIVE))
            .order_by(h.c.placed_at, h.c.id)
        )
        return [_hold(r) for r in rows]

    def hold_queues(self, title_ids: Sequence[int]) -> dict[int, list[Hold]]:
        """`hold_queue` of several titles in one read (a title without holds is absent)."""
        h = t.holds
        queues: dict[int, list[Hold]] = {}
        if not title_ids:
            return queues
        rows = self.conn.execute(
            select(h)
            .where(h.c.title_id.in_(sorted(set(title_ids))), h.c.status.in_(_ACTIVE))
            .order_by(h.c.placed_at, h.c.id)
        )
        for r in rows:
            queues.setdefault(r.title_id, []).append(_hold(r))
        return queues

    def hold(self, hold_id: int) -> Hold | None:
        row = self.conn.execute(select(t.holds).where(t.holds.c.id == hold_id)).first()
        return _hold(row) if row else None

    def add_hold(self, patron_id: int, title_id: int, pickup: str, placed_at: datetime) -> Hold:
        new_id = self.conn.execute(
            insert(t.holds)
            .values(
                patron_id=patron_id,
                title_id=title_id,
                pickup=pickup,
                placed_at=placed_at,
                status=HoldStatus.WAITING.value,
            )
            .returning(t.holds.c.id)
        ).scalar_one()
        return Hold(new_id, patron_id, title_id, pickup, placed_at, HoldStatus.WAITING)

    def update_hold(
        self,
        hold_id: int,
        status: HoldStatus,
        *,
        item_id: int | None = None,
        ready_until: date | None = None,
    ) -> None:
        self.conn.execute(
            update(t.holds)
            .where(t.holds.c.id == hold_id)
            .values(status=status.value, item_id=item_id, ready_until=ready_until)
        )

    def ready_holds_past(self, institution: str, today: date) -> list[Hold]:
        h, ti = t.holds, t.titles
        rows = self.conn.execute(
            select(h)
            .join(ti, ti.c.id == h.c.title_id)
            .where(
                ti.c.institution == institution,
                h.c.status == HoldStatus.READY.value,
                h.c.ready_until < today,
            )
            .order_by(h.c.id)
        )
        return [_hold(r) for r in rows]
