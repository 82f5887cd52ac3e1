"""The account behind the login (R8, R28): loans, renewals, reservations and fines.

Pure rules over plain records: every decision takes `today` (the library's local date)
and returns a value or refuses with a reason code (`renewal.reserved`,
`hold.already_on_loan`, ...). Money is in cents of the library's currency.

Fines accrue per overdue day on a fine calendar: closure periods accrue nothing, and an
open-ended closure ends where calculation resumes (seed 001: fines suspended while the
libraries were closed, resumed from 5 March 2021).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum

from patronauth.domain.errors import Refused
from patronauth.domain.patrons import PatronStatus
from patronauth.domain.text import has_control_characters


class ItemStatus(StrEnum):
    AVAILABLE = "available"
    ON_LOAN = "on_loan"
    HELD = "held"  # on the hold shelf for the patron whose reservation it fills
    LOST = "lost"


class HoldStatus(StrEnum):
    WAITING = "waiting"  # in the queue of the title
    READY = "ready"  # a copy waits at the pickup library until `ready_until`
    COLLECTED = "collected"
    CANCELLED = "cancelled"
    EXPIRED = "expired"  # not collected in time


ACTIVE_HOLDS = frozenset({HoldStatus.WAITING, HoldStatus.READY})


@dataclass(frozen=True)
class CirculationRules:
    """An institution's (or category's) lending rules, from its profile."""

    loan_days: int = 28
    max_renewals: int = 5
    max_loans: int = 8
    max_holds: int = 8
    fine_per_day: int = 150  # cents per overdue day per item
    fine_cap: int = 13000  # cents per item at most
    fines_block: int = 13000  # an unpaid balance from which lending stops
    block_when_overdue: bool = True  # an overdue item stops renewals and new loans
    hold_pickup_days: int = 7


@dataclass(frozen=True)
class Closure:
    """Days on which no fine accrues; `until` None: closed until calculation resumes."""

    start: date
    until: date | None = None

    def covers(self, day: date) -> bool:
        return self.start <= day and (self.until is None or day <= self.until)


@dataclass(frozen=True)
class FineCalendar:
    closures: tuple[Closure, ...] = ()

    def charges_on(self, day: date) -> bool:
        return not any(c.covers(day) for c in self.closures)

    def chargeable_days(self, after: date, through: date) -> int:
        """Days in (after, through] on which fines accrue."""
        days = 0
        day = after + timedelta(days=1)
        while day <= through:
            if self.charges_on(day):
                days += 1
            day += timedelta(days=1)
        return days


def close(calendar: FineCalendar, start: date, until: date | None) -> FineCalendar:
    if until is not None and until < start:
        raise Refused.of("calendar.bad_period")
    return FineCalendar((*calendar.closures, Closure(start, until)))


def resume(calendar: FineCalendar, on: date) -> FineCalendar:
    """Fines accrue again from `on`: every open-ended closure that began before ends the
    day before (seed 001: "calculation of overdue fines will be resumed from 5 March")."""
    open_ones = [c for c in calendar.closures if c.until is None and c.start < on]
    if not open_ones:
        raise Refused.of("calendar.nothing_to_resume")
    return FineCalendar(
        tuple(
            Closure(c.start, on - timedelta(days=1)) if c in open_ones else c
            for c in calendar.closures
        )
    )


def overdue_fine(
    due_on: date, through: date, rules: CirculationRules, calendar: FineCalendar
) -> int:
    """The fine of one item returned (or still out) on `through`, capped per item."""
    if through <= due_on:
        return 0
    return min(calendar.chargeable_days(due_on, through) * rules.fine_per_day, rules.fine_cap)


@dataclass(frozen=True)
class Loan:
    id: int
    patron_id: int
    item_id: int
    title_id: int
    checked_out_on: date
    due_on: date
    renewals: int
    fine_free: bool = False  # seed 001: borrowed from a mobile library

    def overdue(self, today: date) -> bool:
        return today > self.due_on


def loan_fine(loan: Loan, through: date, rules: CirculationRules, calendar: FineCalendar) -> int:
    """The overdue fine of one loan on `through`: none for a loan from a mobile library
    where the profile says so (seed 001: "except those borrowed from the mobile libraries")."""
    return 0 if loan.fine_free else overdue_fine(loan.due_on, through, rules, calendar)


@dataclass(frozen=True)
class Hold:
    id: int
    patron_id: int
    title_id: int
    pickup: str
    placed_at: datetime
    status: HoldStatus
    item_id: int | None = None
    ready_until: date | None = None


@dataclass(frozen=True)
class Standing:
    """What a patron's record allows today: the basis of every lending decision and of
    the SIP2 patron status flags."""

    status: PatronStatus
    loans: int
    overdue: int
    balance: int  # fines recorded + accruing - payments, in cents
    holds: int
    rules: CirculationRules

    @property
    def account_refusal(self) -> str | None:
        if self.status is PatronStatus.EXPIRED:
            return "account_expired"
        if self.status is PatronStatus.BARRED:
            return "account_barred"
        if self.status is PatronStatus.PENDING_REGISTRATION:
            return "account_pending"
        return None

    @property
    def blocked_by_fines(self) -> bool:
        return self.balance >= self.rules.fines_block

    @property
    def blocked_by_overdue(self) -> bool:
        return self.rules.block_when_overdue and self.overdue > 0

    def lending_refusal(self, action: str) -> Refused | None:
        """Why `action` (`renewal`, `checkout`, `hold`) is refused for the account."""
        reason = self.account_refusal
        if reason:
            return Refused.of(f"{action}.{reason}")
        if self.blocked_by_fines:
            return Refused.of(f"{action}.fines_block", balance=self.balance)
        if self.blocked_by_overdue and action != "hold":
            return Refused.of(f"{action}.overdue_block", overdue=self.overdue)
        return None


def standing(
    status: PatronStatus,
    loans: Sequence[Loan],
    *,
    recorded_fines: int,
    payments: int,
    holds: int,
    today: date,
    rules: CirculationRules,
    calendar: FineCalendar,
) -> Standing:
    """The standing from the open loans themselves (`standing_from` with their facts)."""
    facts = StandingFacts(
        loans=len(loans),
        overdue=sum(1 for loan in loans if loan.overdue(today)),
        accruing_due=tuple(
            loan.due_on for loan in loans if loan.overdue(today) and not loan.fine_free
        ),
        recorded_fines=recorded_fines,
        payments=payments,
        holds=holds,
        closures=calendar.closures,
    )
    return standing_from(status, facts, today=today, rules=rules)


@dataclass(frozen=True)
class StandingFacts:
    """What a patron's standing is computed from, as one read gives it: counts and sums
    instead of every loan, fine, payment and hold."""

    loans: int  # open
    overdue: int  # open and past their due date
    accruing_due: tuple[date, ...]  # due dates of the overdue loans that accrue a fine
    recorded_fines: int  # cents
    payments: int  # cents
    holds: int  # waiting or ready, not past their pickup date
    closures: tuple[Closure, ...]  # the institution's fine calendar


def standing_from(
    status: PatronStatus, facts: StandingFacts, *, today: date, rules: CirculationRules
) -> Standing:
    """`standing` from the counts and sums of one read: a loan not yet overdue, or a
    fine-free one, accrues nothing, so the overdue fine-accruing due dates are enough."""
    calendar = FineCalendar(facts.closures)
    accruing = sum(overdue_fine(due, today, rules, calendar) for due in facts.accruing_due)
    return Standing(
        status=status,
        loans=facts.loans,
        overdue=facts.overdue,
        balance=facts.recorded_fines + accruing - facts.payments,
        holds=facts.holds,
        rules=rules,
    )


def renewal_due_date(loan: Loan, today: date, rules: CirculationRules) -> date:
    """A renewal lends for another full period from the due date, or from today when the
    item is already overdue."""
    return max(loan.due_on, today) + timedelta(days=rules.loan_days)


def renew(
    loan: Loan,
    account: Standing,
    *,
    others_waiting: int,
    today: date,
) -> date:
    """The new due date, or the reason the renewal is refused."""
    refusal = account.lending_refusal("renewal")
    if refusal:
        raise refusal
    if loan.renewals >= account.rules.max_renewals:
        raise Refused.of("renewal.max_renewals", max=account.rules.max_renewals)
    if others_waiting:
        raise Refused.of("renewal.reserved")
    return renewal_due_date(loan, today, account.rules)


def check_out(
    account: Standing,
    *,
    item_status: ItemStatus,
    held_for_patron: bool,
    today: date,
) -> date:
    """The due date of a new loan, or the reason it is refused."""
    refusal = account.lending_refusal("checkout")
    if refusal:
        raise refusal
    if account.loans >= account.rules.max_loans:
        raise Refused.of("checkout.too_many_items", max=account.rules.max_loans)
    if item_status is ItemStatus.ON_LOAN:
        raise Refused.of("checkout.on_loan")
    if item_status is ItemStatus.HELD and not held_for_patron:
        raise Refused.of("checkout.held_for_another")
    if item_status is ItemStatus.LOST:
        raise Refused.of("checkout.item_lost")
    return today + timedelta(days=account.rules.loan_days)


def place_hold(
    account: Standing,
    *,
    has_active_hold: bool,
    has_on_loan: bool,
    pickup: str,
    pickups: Iterable[str],
) -> None:
    refusal = account.lending_refusal("hold")
    if refusal:
        raise refusal
    if pickup not in set(pickups):
        raise Refused.of("hold.unknown_pickup")
    if has_active_hold:
        raise Refused.of("hold.duplicate")
    if has_on_loan:
        raise Refused.of("hold.already_on_loan")
    if account.holds >= account.rules.max_holds:
        raise Refused.of("hold.too_many", max=account.rules.max_holds)


def queue_position(hold: Hold, queue: Sequence[Hold]) -> int | None:
    """1-based place among the title's waiting holds, in the order they were placed."""
    if hold.status is not HoldStatus.WAITING:
        return None
    waiting = sorted(
        (h for h in queue if h.status is HoldStatus.WAITING), key=lambda h: (h.placed_at, h.id)
    )
    for position, candidate in enumerate(waiting, start=1):
        if candidate.id == hold.id:
            return position
    return None


def next_in_queue(queue: Sequence[Hold]) -> Hold | None:
    waiting = [h for h in queue if h.status is HoldStatus.WAITING]
    return min(waiting, key=lambda h: (h.placed_at, h.id)) if waiting else None


def ready_until(today: date, rules: CirculationRules) -> date:
    return today + timedelta(days=rules.hold_pickup_days)


def expired(hold: Hold, today: date) -> bool:
    return (
        hold.status is HoldStatus.READY
        and hold.ready_until is not None
        and today > hold.ready_until
    )


class RequestKind(StrEnum):
    RECOMMENDATION = "recommendation"  # PolyU: book recommendation (R8)
    INTERLIBRARY_LOAN = "interlibrary_loan"  # PolyU: interlibrary loan request (R8)


class RequestStatus(StrEnum):
    SUBMITTED = "submitted"
    IN_PROGRESS = "in_progress"
    FULFILLED = "fulfilled"
    REJECTED = "rejected"


REQUEST_LIMITS = {"title": 300, "author": 200, "note": 1000}
_LINE_BREAKS_AND_TABS = str.maketrans("\r\n\t", "   ")


def request_text(name: str, raw: str | None, *, required: bool = False) -> str:
    """A field of a recommendation or an interlibrary-loan request: NFC, single-spaced,
    bounded, without control characters or markup (SPEC 7). Line breaks and tabs (a
    note typed in a text area) become single spaces; other control characters refuse."""
    text = " ".join(unicodedata.normalize("NFC", raw or "").split())
    if not text:
        if required:
            raise Refused.of(f"request.{name}_missing")
        return ""
    if (
        has_control_characters((raw or "").translate(_LINE_BREAKS_AND_TABS))
        or "<" in text
        or ">" in text
    ):
        raise Refused.of("request.invalid_characters", field=name)
    if len(text) > REQUEST_LIMITS[name]:
        raise Refused.of("request.too_long", field=name, max=REQUEST_LIMITS[name])
    return text


@dataclass(frozen=True)
class Title:
    id: int
    institution: str
    title: str
    author: str
    isbn: str | None


@dataclass(frozen=True)
class Item:
    id: int
    title_id: int
    institution: str
    barcode: str
    home_library: str
    status: ItemStatus


@dataclass(frozen=True)
class Fine:
    id: int
    patron_id: int
    loan_id: int | None
    amount: int
    reason: str
    charged_on: date


@dataclass(frozen=True)
class Payment:
    id: int
    patron_id: int
    amount: int
    paid_at: datetime
    received_by: str


@dataclass(frozen=True)
class PatronRequest:
    id: int
    patron_id: int
    kind: RequestKind
    title: str
    author: str
    note: str
    status: RequestStatus
    created_at: datetime
    updated_at: datetime
