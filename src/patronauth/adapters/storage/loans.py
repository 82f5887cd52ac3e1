"""Loans in SQL."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import date
from typing import Any

from sqlalchemy import (
    Connection,
    Date,
    Row,
    String,
    and_,
    bindparam,
    func,
    insert,
    not_,
    or_,
    select,
    update,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from patronauth.adapters.storage import tables as t
from patronauth.adapters.storage.driver import DriverQuery
from patronauth.adapters.storage.repositories import (
    FIND_BY_KEY,
    PATRONS_WITH_CARDS,
    identifier_from,
    patron_from,
)
from patronauth.domain.circulation import (
    ACTIVE_HOLDS,
    Closure,
    HoldStatus,
    Item,
    Loan,
    StandingFacts,
    Title,
)
from patronauth.domain.patrons import Identifier, Patron


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


class _IsoDate(FunctionElement[str]):
    """A date as `YYYY-MM-DD` text, whatever the server's date style (PostgreSQL's
    `DateStyle` may be set to write `24/11/2026`; SQLite stores ISO text already)."""

    type = String()
    inherit_cache = True


@compiles(_IsoDate)
def _iso_date(element: _IsoDate, compiler: Any, **kw: Any) -> str:
    return f"CAST({compiler.process(element.clauses, **kw)} AS VARCHAR)"


@compiles(_IsoDate, "postgresql")
def _iso_date_postgresql(element: _IsoDate, compiler: Any, **kw: Any) -> str:
    return f"to_char({compiler.process(element.clauses, **kw)}, 'YYYY-MM-DD')"


class _Joined(FunctionElement[str]):
    """The group's texts joined by commas. As SQLAlchemy's `aggregate_strings`, with
    the comma written into the statement: `aggregate_strings` binds it as a literal that
    SQLAlchemy renders into the text at every execution (5% of a 23 without PIN)."""

    type = String()
    inherit_cache = True


@compiles(_Joined)
def _joined(element: _Joined, compiler: Any, **kw: Any) -> str:
    return f"group_concat({compiler.process(element.clauses, **kw)}, ',')"


@compiles(_Joined, "postgresql")
def _joined_postgresql(element: _Joined, compiler: Any, **kw: Any) -> str:
    return f"string_agg({compiler.process(element.clauses, **kw)}, ',')"


def _dates(joined: str | None) -> list[str]:
    return joined.split(",") if joined else []


def _closure(text: str) -> Closure:
    start, _, until = text.partition("/")
    return Closure(date.fromisoformat(start), date.fromisoformat(until) if until else None)


def _standing_columns(patron_id: Any, institution: Any, today: Any) -> list[Any]:
    """The standing as scalar subqueries: counts and sums, and as text the due dates of
    the overdue loans that accrue a fine and the institution's closures (both short).
    `patron_id` and `institution` are bound parameters, or the columns of an enclosing
    query over patrons (the subqueries then follow its rows)."""
    lo, h, f, p, c = t.loans, t.holds, t.fines, t.payments, t.closures
    open_loan = and_(lo.c.patron_id == patron_id, lo.c.returned_on.is_(None))
    overdue = and_(open_loan, lo.c.due_on < today)
    # A ready hold past its pickup date counts no more, though nobody has noticed it yet.
    lapsed = and_(
        h.c.status == HoldStatus.READY.value,
        h.c.ready_until.is_not(None),
        h.c.ready_until < today,
    )
    closure_text = _IsoDate(c.c.start) + "/" + func.coalesce(_IsoDate(c.c.until), "")
    return [
        select(func.count()).select_from(lo).where(open_loan).scalar_subquery().label("loans"),
        select(func.count()).select_from(lo).where(overdue).scalar_subquery().label("overdue"),
        select(_Joined(_IsoDate(lo.c.due_on)))
        .where(overdue, not_(lo.c.fine_free))
        .scalar_subquery()
        .label("accruing_due"),
        select(func.coalesce(func.sum(f.c.amount), 0))
        .where(f.c.patron_id == patron_id)
        .scalar_subquery()
        .label("fines"),
        select(func.coalesce(func.sum(p.c.amount), 0))
        .where(p.c.patron_id == patron_id)
        .scalar_subquery()
        .label("payments"),
        select(func.count())
        .select_from(h)
        .where(
            h.c.patron_id == patron_id,
            # Equalities, not IN: an IN list is expanded anew at every execution.
            or_(*(h.c.status == s.value for s in sorted(ACTIVE_HOLDS))),
            not_(lapsed),
        )
        .scalar_subquery()
        .label("holds"),
        select(_Joined(closure_text))
        .where(c.c.institution == institution)
        .scalar_subquery()
        .label("closures"),
    ]


def _standing_query() -> Any:
    """One SELECT of the standing's subqueries. Built once with bound parameters, so
    that SQLAlchemy finds its compiled form by a cache key it keeps instead of working
    one out at every status request."""
    return select(
        *_standing_columns(
            bindparam("patron_id", type_=t.loans.c.patron_id.type),
            bindparam("institution", type_=String()),
            bindparam("today", type_=Date()),
        )
    )


def _found_with_standing_query(cards: Any) -> Any:
    """The patrons behind a lockout key (`cards`: `SqlPatrons.find`'s statement, or the
    same for many keys), each row with its patron's standing: the lookup and the
    standing in one statement (a 23 without PIN, P4). The subqueries follow the row's
    patron and institution."""
    today = bindparam("today", type_=Date())
    return cards.add_columns(*_standing_columns(t.patrons.c.id, t.patrons.c.institution, today))


def _facts(row: Row[Any]) -> StandingFacts:
    return StandingFacts(
        loans=row.loans,
        overdue=row.overdue,
        accruing_due=tuple(date.fromisoformat(d) for d in _dates(row.accruing_due)),
        recorded_fines=int(row.fines),
        payments=int(row.payments),
        holds=row.holds,
        closures=tuple(_closure(text) for text in _dates(row.closures)),
    )


_STANDING = _standing_query()
# Every 23 without PIN (P4): run on the driver's cursor (`driver.py`).
_FOUND_WITH_STANDING = DriverQuery(_found_with_standing_query(FIND_BY_KEY))
# Many 23s without PIN that arrived together: one statement for all their keys.
_FOUND_WITH_STANDING_EACH = _found_with_standing_query(
    PATRONS_WITH_CARDS.where(t.identifiers.c.lookup_key.in_(bindparam("keys", expanding=True)))
)


class SqlLoans:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def standing_facts(self, patron_id: int, institution: str, today: date) -> StandingFacts:
        row = self.conn.execute(
            _STANDING, {"patron_id": patron_id, "institution": institution, "today": today}
        ).one()
        return _facts(row)

    def found_with_standing(
        self, lookup_key: str, today: date
    ) -> list[tuple[Patron, Identifier, StandingFacts]]:
        rows = _FOUND_WITH_STANDING.rows(self.conn, {"key": lookup_key, "today": today})
        return [(patron_from(row), identifier_from(row, "i_"), _facts(row)) for row in rows]

    def found_with_standing_each(
        self, lookup_keys: Collection[str], today: date
    ) -> dict[str, list[tuple[Patron, Identifier, StandingFacts]]]:
        found: dict[str, list[tuple[Patron, Identifier, StandingFacts]]] = {
            key: [] for key in lookup_keys
        }
        if found:
            rows = self.conn.execute(
                _FOUND_WITH_STANDING_EACH, {"keys": list(found), "today": today}
            )
            for row in rows:
                found[row.i_lookup_key].append(
                    (patron_from(row), identifier_from(row, "i_"), _facts(row))
                )
        return found

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
