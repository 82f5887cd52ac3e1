"""Fines, payments and the fine calendar's closures in SQL."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Connection, insert, select, update

from patronauth.adapters.storage import tables as t
from patronauth.domain.circulation import Closure, Fine, Payment


class SqlFines:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add_fine(
        self, patron_id: int, loan_id: int | None, amount: int, reason: str, today: date
    ) -> None:
        self.conn.execute(
            insert(t.fines).values(
                patron_id=patron_id, loan_id=loan_id, amount=amount, reason=reason, charged_on=today
            )
        )

    def fines_of(self, patron_id: int) -> list[Fine]:
        f = t.fines
        rows = self.conn.execute(select(f).where(f.c.patron_id == patron_id).order_by(f.c.id))
        return [Fine(r.id, r.patron_id, r.loan_id, r.amount, r.reason, r.charged_on) for r in rows]

    def add_payment(self, patron_id: int, amount: int, at: datetime, received_by: str) -> None:
        self.conn.execute(
            insert(t.payments).values(
                patron_id=patron_id, amount=amount, paid_at=at, received_by=received_by
            )
        )

    def payments_of(self, patron_id: int) -> list[Payment]:
        p = t.payments
        rows = self.conn.execute(select(p).where(p.c.patron_id == patron_id).order_by(p.c.id))
        return [Payment(r.id, r.patron_id, r.amount, r.paid_at, r.received_by) for r in rows]

    def closures(self, institution: str) -> list[Closure]:
        c = t.closures
        rows = self.conn.execute(
            select(c).where(c.c.institution == institution).order_by(c.c.start, c.c.id)
        )
        return [Closure(r.start, r.until) for r in rows]

    def add_closure(self, institution: str, closure: Closure, *, by: str, at: datetime) -> None:
        self.conn.execute(
            insert(t.closures).values(
                institution=institution,
                start=closure.start,
                until=closure.until,
                created_by=by,
                created_at=at,
            )
        )

    def end_open_closures(self, institution: str, before: date, until: date) -> int:
        c = t.closures
        done = self.conn.execute(
            update(c)
            .where(c.c.institution == institution, c.c.until.is_(None), c.c.start < before)
            .values(until=until)
        )
        return int(done.rowcount)
