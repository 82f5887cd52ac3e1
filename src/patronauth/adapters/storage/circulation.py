"""Titles, copies, loans, holds, fines and requests in SQL."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Connection, Row, bindparam, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from patronauth.adapters.storage import tables as t
from patronauth.domain.circulation import (
    ACTIVE_HOLDS,
    Closure,
    Fine,
    Hold,
    HoldStatus,
    Item,
    ItemStatus,
    Loan,
    PatronRequest,
    Payment,
    RequestKind,
    RequestStatus,
    Title,
)
from patronauth.domain.errors import Conflict

_ACTIVE = [s.value for s in ACTIVE_HOLDS]


def _title(row: Row[Any]) -> Title:
    return Title(row.id, row.institution, row.title, row.author, row.isbn)


def _item(row: Row[Any]) -> Item:
    return Item(
        row.id, row.title_id, row.institution, row.barcode, row.home_library, ItemStatus(row.status)
    )


def _loan(row: Row[Any]) -> Loan:
    return Loan(
        row.id,
        row.patron_id,
        row.item_id,
        row.title_id,
        row.checked_out_on,
        row.due_on,
        row.renewals,
        row.fine_free,
    )


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


def _request(row: Row[Any]) -> PatronRequest:
    return PatronRequest(
        id=row.id,
        patron_id=row.patron_id,
        kind=RequestKind(row.kind),
        title=row.title,
        author=row.author,
        note=row.note,
        status=RequestStatus(row.status),
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


class SqlCirculation:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self._postgres = conn.dialect.name == "postgresql"

    # --- titles and copies ---------------------------------------------------------

    def lock_title(self, title_id: int) -> None:
        # SQLite's BEGIN IMMEDIATE already serialises every writing transaction.
        if self._postgres:
            self.conn.execute(
                select(t.titles.c.id).where(t.titles.c.id == title_id).with_for_update()
            )

    def lock_titles(self, title_ids: Sequence[int]) -> None:
        # One statement; PostgreSQL locks the rows in the order it returns them.
        if self._postgres and title_ids:
            ti = t.titles
            self.conn.execute(
                select(ti.c.id)
                .where(ti.c.id.in_(sorted(set(title_ids))))
                .order_by(ti.c.id)
                .with_for_update()
            )

    def add_title(self, institution: str, title: str, author: str, isbn: str | None) -> Title:
        new_id = self.conn.execute(
            insert(t.titles)
            .values(
                institution=institution,
                title=title,
                author=author,
                isbn=isbn,
                created_at=datetime.now(UTC),
            )
            .returning(t.titles.c.id)
        ).scalar_one()
        return Title(new_id, institution, title, author, isbn)

    def find_title(
        self, institution: str, title: str, author: str, isbn: str | None
    ) -> Title | None:
        ti = t.titles
        query = select(ti).where(ti.c.institution == institution)
        if isbn:
            query = query.where(ti.c.isbn == isbn)
        else:
            query = query.where(ti.c.title == title, ti.c.author == author)
        row = self.conn.execute(query.order_by(ti.c.id).limit(1)).first()
        return _title(row) if row else None

    def title(self, title_id: int) -> Title | None:
        row = self.conn.execute(select(t.titles).where(t.titles.c.id == title_id)).first()
        return _title(row) if row else None

    def search_titles(self, institution: str, text: str, *, limit: int) -> list[Title]:
        ti = t.titles
        pattern = (
            "%" + text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        )
        rows = self.conn.execute(
            select(ti)
            .where(
                ti.c.institution == institution,
                (func.lower(ti.c.title).like(pattern, escape="\\"))
                | (func.lower(ti.c.author).like(pattern, escape="\\")),
            )
            .order_by(ti.c.title, ti.c.id)
            .limit(limit)
        )
        return [_title(row) for row in rows]

    def add_item(self, title_id: int, institution: str, barcode: str, home_library: str) -> Item:
        try:
            with self.conn.begin_nested():
                new_id = self.conn.execute(
                    insert(t.items)
                    .values(
                        title_id=title_id,
                        institution=institution,
                        barcode=barcode,
                        home_library=home_library,
                        status=ItemStatus.AVAILABLE.value,
                        created_at=datetime.now(UTC),
                    )
                    .returning(t.items.c.id)
                ).scalar_one()
        except IntegrityError:
            raise Conflict.of("item.taken") from None
        return Item(new_id, title_id, institution, barcode, home_library, ItemStatus.AVAILABLE)

    def item(self, item_id: int) -> Item | None:
        row = self.conn.execute(select(t.items).where(t.items.c.id == item_id)).first()
        return _item(row) if row else None

    def item_by_barcode(self, institution: str, barcode: str) -> Item | None:
        it = t.items
        row = self.conn.execute(
            select(it).where(it.c.institution == institution, it.c.barcode == barcode)
        ).first()
        return _item(row) if row else None

    def items_of_title(self, title_id: int) -> list[Item]:
        it = t.items
        return [
            _item(r)
            for r in self.conn.execute(
                select(it).where(it.c.title_id == title_id).order_by(it.c.id)
            )
        ]

    def set_item_status(self, item_id: int, status: ItemStatus) -> None:
        self.conn.execute(
            update(t.items).where(t.items.c.id == item_id).values(status=status.value)
        )

    # --- loans ---------------------------------------------------------------------

    def open_loans(self, patron_id: int) -> list[Loan]:
        lo = t.loans
        rows = self.conn.execute(
            select(lo)
            .where(lo.c.patron_id == patron_id, lo.c.returned_on.is_(None))
            .order_by(lo.c.due_on, lo.c.id)
        )
        return [_loan(r) for r in rows]

    def open_loans_listed(self, patron_id: int) -> list[tuple[Loan, Title, str]]:
        """The open loans with their titles and the copies' barcodes, in one query."""
        lo, ti, it = t.loans, t.titles, t.items
        rows = self.conn.execute(
            select(
                lo,
                ti.c.institution.label("title_institution"),
                ti.c.title,
                ti.c.author,
                ti.c.isbn,
                it.c.barcode,
            )
            .join(ti, ti.c.id == lo.c.title_id)
            .join(it, it.c.id == lo.c.item_id)
            .where(lo.c.patron_id == patron_id, lo.c.returned_on.is_(None))
            .order_by(lo.c.due_on, lo.c.id)
        )
        return [
            (
                _loan(r),
                Title(r.title_id, r.title_institution, r.title, r.author, r.isbn),
                r.barcode,
            )
            for r in rows
        ]

    def open_loan_of_item(self, item_id: int) -> Loan | None:
        lo = t.loans
        row = self.conn.execute(
            select(lo).where(lo.c.item_id == item_id, lo.c.returned_on.is_(None))
        ).first()
        return _loan(row) if row else None

    def loan(self, loan_id: int) -> Loan | None:
        lo = t.loans
        row = self.conn.execute(
            select(lo).where(lo.c.id == loan_id, lo.c.returned_on.is_(None))
        ).first()
        return _loan(row) if row else None

    def add_loan(
        self, patron_id: int, item: Item, today: date, due_on: date, *, fine_free: bool = False
    ) -> Loan:
        new_id = self.conn.execute(
            insert(t.loans)
            .values(
                patron_id=patron_id,
                item_id=item.id,
                title_id=item.title_id,
                checked_out_on=today,
                due_on=due_on,
                renewals=0,
                fine_free=fine_free,
            )
            .returning(t.loans.c.id)
        ).scalar_one()
        return Loan(new_id, patron_id, item.id, item.title_id, today, due_on, 0, fine_free)

    def renew_loan(self, loan: Loan, due_on: date) -> None:
        lo = t.loans
        self.conn.execute(
            update(lo).where(lo.c.id == loan.id).values(due_on=due_on, renewals=lo.c.renewals + 1)
        )

    def renew_loans(self, renewals: Sequence[tuple[Loan, date]]) -> None:
        if renewals:
            lo = t.loans
            self.conn.execute(
                update(lo)
                .where(lo.c.id == bindparam("loan"))
                .values(due_on=bindparam("due"), renewals=lo.c.renewals + 1),
                [{"loan": loan.id, "due": due} for loan, due in renewals],
            )

    def return_loan(self, loan: Loan, today: date) -> None:
        self.conn.execute(update(t.loans).where(t.loans.c.id == loan.id).values(returned_on=today))

    # --- holds ---------------------------------------------------------------------

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

    # --- fines and payments --------------------------------------------------------

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

    # --- the fine calendar ------------------------------------------------------------

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

    # --- requests (PolyU) --------------------------------------------------------------

    def add_request(
        self, patron_id: int, kind: RequestKind, text: Mapping[str, str], at: datetime
    ) -> PatronRequest:
        new_id = self.conn.execute(
            insert(t.patron_requests)
            .values(
                patron_id=patron_id,
                kind=kind.value,
                title=text["title"],
                author=text.get("author", ""),
                note=text.get("note", ""),
                status=RequestStatus.SUBMITTED.value,
                created_at=at,
                updated_at=at,
            )
            .returning(t.patron_requests.c.id)
        ).scalar_one()
        found = self.request(new_id)
        assert found is not None
        return found

    def requests_of(self, patron_id: int) -> list[PatronRequest]:
        r = t.patron_requests
        rows = self.conn.execute(
            select(r)
            .where(r.c.patron_id == patron_id)
            .order_by(r.c.created_at.desc(), r.c.id.desc())
        )
        return [_request(row) for row in rows]

    def request(self, request_id: int) -> PatronRequest | None:
        row = self.conn.execute(
            select(t.patron_requests).where(t.patron_requests.c.id == request_id)
        ).first()
        return _request(row) if row else None

    def set_request_status(self, request_id: int, status: RequestStatus, at: datetime) -> None:
        self.conn.execute(
            update(t.patron_requests)
            .where(t.patron_requests.c.id == request_id)
            .values(status=status.value, updated_at=at)
        )
