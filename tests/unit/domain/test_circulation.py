"""Lending rules (R8, R28): renewals, check-outs, reservations, the hold queue, fines on
the fine calendar (seed 001) and the text of PolyU's requests. Every refusal is asserted
by its reason code and the values its message needs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from patronauth.domain.circulation import (
    REQUEST_LIMITS,
    CirculationRules,
    Closure,
    FineCalendar,
    Hold,
    HoldStatus,
    ItemStatus,
    Loan,
    Standing,
    check_out,
    close,
    expired,
    next_in_queue,
    overdue_fine,
    place_hold,
    queue_position,
    ready_until,
    renew,
    renewal_due_date,
    request_text,
    resume,
    standing,
)
from patronauth.domain.errors import Refused
from patronauth.domain.patrons import PatronStatus

TODAY = date(2026, 11, 24)
DAY = timedelta(days=1)
RULES = CirculationRules(
    loan_days=21,
    max_renewals=5,
    max_loans=8,
    max_holds=8,
    fine_per_day=150,
    fine_cap=13000,
    fines_block=13000,
    block_when_overdue=True,
    hold_pickup_days=7,
)
LENIENT = replace(RULES, block_when_overdue=False)  # HKPL: overdue items stop nothing
PICKUPS = ("CEN", "KLN", "STN")
EXPIRED, BARRED, PENDING = (
    PatronStatus.EXPIRED,
    PatronStatus.BARRED,
    PatronStatus.PENDING_REGISTRATION,
)

Outcome = object  # a decision's value, or (code, params) of its refusal


def outcome(decide: Callable[[], object]) -> Outcome:
    """The decision's value, or the refusal's code with its parameters."""
    try:
        return decide()
    except Refused as refused:
        (violation,) = refused.violations  # one code per refusal
        return violation.code, dict(violation.params)


def account(
    *,
    status: PatronStatus = PatronStatus.ACTIVE,
    loans: int = 1,
    overdue: int = 0,
    balance: int = 0,
    holds: int = 0,
    rules: CirculationRules = RULES,
) -> Standing:
    return Standing(status, loans, overdue, balance, holds, rules)


def loan(*, due_on: date = TODAY + 10 * DAY, renewals: int = 0, loan_id: int = 1) -> Loan:
    return Loan(loan_id, 7, 100 + loan_id, 50, due_on - 21 * DAY, due_on, renewals)


# --- renewals ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("standing_of", "loaned", "others_waiting", "expected"),
    [
        pytest.param({}, {}, 0, TODAY + 31 * DAY, id="from-the-due-date"),
        pytest.param({}, {"due_on": TODAY}, 0, TODAY + 21 * DAY, id="due-today-is-not-overdue"),
        pytest.param({}, {"renewals": 4}, 0, TODAY + 31 * DAY, id="last-renewal-allowed"),
        pytest.param(
            {}, {"renewals": 5}, 0, ("renewal.max_renewals", {"max": 5}), id="max-renewals"
        ),
        pytest.param({}, {"renewals": 9}, 0, ("renewal.max_renewals", {"max": 5}), id="beyond-max"),
        pytest.param({}, {}, 1, ("renewal.reserved", {}), id="reserved-by-another"),
        pytest.param({}, {}, 3, ("renewal.reserved", {}), id="reserved-by-several"),
        pytest.param(
            {"balance": 13000},
            {},
            0,
            ("renewal.fines_block", {"balance": 13000}),
            id="fines-at-the-threshold",
        ),
        pytest.param(
            {"balance": 20000},
            {},
            0,
            ("renewal.fines_block", {"balance": 20000}),
            id="fines-above-the-threshold",
        ),
        pytest.param({"balance": 12999}, {}, 0, TODAY + 31 * DAY, id="fines-just-below"),
        pytest.param(
            {"overdue": 1},
            {"due_on": TODAY - DAY},
            0,
            ("renewal.overdue_block", {"overdue": 1}),
            id="this-item-overdue-blocks",
        ),
        pytest.param(
            {"overdue": 2, "loans": 3},
            {},
            0,
            ("renewal.overdue_block", {"overdue": 2}),
            id="another-item-overdue-blocks",
        ),
        pytest.param(
            {"overdue": 1, "rules": LENIENT},
            {"due_on": TODAY - 3 * DAY},
            0,
            TODAY + 21 * DAY,
            id="overdue-block-off-renews-from-today",
        ),
        pytest.param(
            {"overdue": 1, "loans": 2, "rules": LENIENT},
            {},
            0,
            TODAY + 31 * DAY,
            id="overdue-block-off-another-item-overdue",
        ),
        pytest.param(
            {"status": EXPIRED}, {}, 0, ("renewal.account_expired", {}), id="account-expired"
        ),
        pytest.param(
            {"status": BARRED}, {}, 0, ("renewal.account_barred", {}), id="account-barred"
        ),
        pytest.param(
            {"status": PENDING}, {}, 0, ("renewal.account_pending", {}), id="account-pending"
        ),
        # One code per refusal: the account first, then fines, overdue items, the item.
        pytest.param(
            {"status": BARRED, "balance": 20000, "overdue": 1},
            {"renewals": 5},
            1,
            ("renewal.account_barred", {}),
            id="account-before-everything",
        ),
        pytest.param(
            {"balance": 13000, "overdue": 1},
            {},
            0,
            ("renewal.fines_block", {"balance": 13000}),
            id="fines-before-overdue",
        ),
        pytest.param(
            {"overdue": 1},
            {"renewals": 5},
            1,
            ("renewal.overdue_block", {"overdue": 1}),
            id="overdue-before-the-item",
        ),
        pytest.param(
            {}, {"renewals": 5}, 1, ("renewal.max_renewals", {"max": 5}), id="max-before-reserved"
        ),
    ],
)
def test_renewal(
    standing_of: dict[str, Any], loaned: dict[str, Any], others_waiting: int, expected: Outcome
) -> None:
    decision = outcome(
        lambda: renew(
            loan(**loaned), account(**standing_of), others_waiting=others_waiting, today=TODAY
        )
    )
    assert decision == expected


@pytest.mark.parametrize(
    ("due_on", "today", "expected"),
    [
        pytest.param(date(2026, 12, 15), date(2026, 11, 24), date(2027, 1, 5), id="early"),
        pytest.param(date(2026, 12, 15), date(2026, 12, 15), date(2027, 1, 5), id="on-due-date"),
        pytest.param(date(2026, 12, 15), date(2026, 12, 16), date(2027, 1, 6), id="a-day-late"),
        pytest.param(date(2026, 12, 15), date(2027, 2, 1), date(2027, 2, 22), id="long-overdue"),
    ],
)
def test_a_renewal_lends_a_full_period_from_the_due_date_or_from_today_when_overdue(
    due_on: date, today: date, expected: date
) -> None:
    assert renewal_due_date(loan(due_on=due_on), today, RULES) == expected


# --- check-outs ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("standing_of", "item_status", "held_for_patron", "expected"),
    [
        pytest.param({}, ItemStatus.AVAILABLE, False, TODAY + 21 * DAY, id="on-the-shelf"),
        pytest.param({"loans": 0}, ItemStatus.AVAILABLE, False, TODAY + 21 * DAY, id="first"),
        pytest.param({"loans": 7}, ItemStatus.AVAILABLE, False, TODAY + 21 * DAY, id="the-8th"),
        pytest.param(
            {"loans": 8},
            ItemStatus.AVAILABLE,
            False,
            ("checkout.too_many_items", {"max": 8}),
            id="too-many-items",
        ),
        pytest.param({}, ItemStatus.ON_LOAN, False, ("checkout.on_loan", {}), id="already-on-loan"),
        pytest.param(
            {}, ItemStatus.HELD, False, ("checkout.held_for_another", {}), id="held-for-another"
        ),
        pytest.param({}, ItemStatus.HELD, True, TODAY + 21 * DAY, id="held-for-this-patron"),
        pytest.param({}, ItemStatus.LOST, False, ("checkout.item_lost", {}), id="lost"),
        pytest.param(
            {"status": EXPIRED},
            ItemStatus.AVAILABLE,
            False,
            ("checkout.account_expired", {}),
            id="account-expired",
        ),
        pytest.param(
            {"status": BARRED},
            ItemStatus.AVAILABLE,
            False,
            ("checkout.account_barred", {}),
            id="account-barred",
        ),
        pytest.param(
            {"status": PENDING},
            ItemStatus.HELD,
            True,
            ("checkout.account_pending", {}),
            id="account-pending",
        ),
        pytest.param(
            {"balance": 13000},
            ItemStatus.AVAILABLE,
            False,
            ("checkout.fines_block", {"balance": 13000}),
            id="fines-at-the-threshold",
        ),
        pytest.param(
            {"balance": 12999}, ItemStatus.AVAILABLE, False, TODAY + 21 * DAY, id="fines-below"
        ),
        pytest.param(
            {"overdue": 1},
            ItemStatus.AVAILABLE,
            False,
            ("checkout.overdue_block", {"overdue": 1}),
            id="overdue-block-on",
        ),
        pytest.param(
            {"overdue": 1, "rules": LENIENT},
            ItemStatus.AVAILABLE,
            False,
            TODAY + 21 * DAY,
            id="overdue-block-off",
        ),
        pytest.param(
            {"loans": 8, "balance": 13000},
            ItemStatus.ON_LOAN,
            False,
            ("checkout.fines_block", {"balance": 13000}),
            id="the-account-before-the-item",
        ),
        pytest.param(
            {"loans": 8},
            ItemStatus.HELD,
            False,
            ("checkout.too_many_items", {"max": 8}),
            id="too-many-before-the-item",
        ),
    ],
)
def test_checkout(
    standing_of: dict[str, Any], item_status: ItemStatus, held_for_patron: bool, expected: Outcome
) -> None:
    decision = outcome(
        lambda: check_out(
            account(**standing_of),
            item_status=item_status,
            held_for_patron=held_for_patron,
            today=TODAY,
        )
    )
    assert decision == expected


# --- reservations ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("standing_of", "facts", "expected"),
    [
        pytest.param({}, {}, None, id="placed"),
        pytest.param({"holds": 7}, {}, None, id="the-8th"),
        pytest.param({}, {"pickup": "XYZ"}, ("hold.unknown_pickup", {}), id="unknown-pickup"),
        pytest.param({}, {"pickup": "cen"}, ("hold.unknown_pickup", {}), id="pickup-is-a-code"),
        pytest.param({}, {"has_active_hold": True}, ("hold.duplicate", {}), id="duplicate"),
        pytest.param({}, {"has_on_loan": True}, ("hold.already_on_loan", {}), id="already-on-loan"),
        pytest.param({"holds": 8}, {}, ("hold.too_many", {"max": 8}), id="too-many"),
        pytest.param({"status": EXPIRED}, {}, ("hold.account_expired", {}), id="expired"),
        pytest.param({"status": BARRED}, {}, ("hold.account_barred", {}), id="barred"),
        pytest.param({"status": PENDING}, {}, ("hold.account_pending", {}), id="pending"),
        pytest.param(
            {"balance": 13000},
            {},
            ("hold.fines_block", {"balance": 13000}),
            id="fines-at-the-threshold",
        ),
        pytest.param({"balance": 12999}, {}, None, id="fines-just-below"),
        pytest.param({"overdue": 3}, {}, None, id="overdue-does-not-block-holds"),
        pytest.param(
            {"holds": 8, "balance": 13000},
            {"pickup": "XYZ", "has_active_hold": True},
            ("hold.fines_block", {"balance": 13000}),
            id="the-account-first",
        ),
        pytest.param(
            {"holds": 8},
            {"pickup": "XYZ", "has_active_hold": True},
            ("hold.unknown_pickup", {}),
            id="pickup-before-duplicate",
        ),
        pytest.param(
            {"holds": 8},
            {"has_active_hold": True, "has_on_loan": True},
            ("hold.duplicate", {}),
            id="duplicate-before-on-loan",
        ),
        pytest.param(
            {"holds": 8},
            {"has_on_loan": True},
            ("hold.already_on_loan", {}),
            id="on-loan-before-too-many",
        ),
    ],
)
def test_reservation(standing_of: dict[str, Any], facts: dict[str, Any], expected: Outcome) -> None:
    given: dict[str, Any] = {"has_active_hold": False, "has_on_loan": False, "pickup": "KLN"}
    given |= facts

    def decide() -> None:
        place_hold(account(**standing_of), pickups=PICKUPS, **given)

    assert outcome(decide) == expected


# --- the standing of an account -------------------------------------------------------------


def test_the_standing_counts_loans_overdue_items_and_the_balance_with_accruing_fines() -> None:
    loans = [
        loan(loan_id=1, due_on=TODAY + 3 * DAY),
        loan(loan_id=2, due_on=TODAY),
        loan(loan_id=3, due_on=TODAY - 4 * DAY),  # 4 days: 600
        loan(loan_id=4, due_on=TODAY - 200 * DAY),  # capped: 13000
    ]
    found = standing(
        PatronStatus.ACTIVE,
        loans,
        recorded_fines=900,
        payments=500,
        holds=2,
        today=TODAY,
        rules=RULES,
        calendar=FineCalendar(),
    )
    assert (found.loans, found.overdue, found.balance, found.holds) == (4, 2, 14000, 2)
    assert found.blocked_by_fines
    assert found.blocked_by_overdue
    refusal = found.lending_refusal("hold")
    assert refusal is not None
    assert (refusal.code, dict(refusal.violations[0].params)) == (
        "hold.fines_block",
        {"balance": 14000},
    )


def test_payments_bring_the_balance_below_the_block() -> None:
    found = standing(
        PatronStatus.ACTIVE,
        [],
        recorded_fines=13000,
        payments=1,
        holds=0,
        today=TODAY,
        rules=RULES,
        calendar=FineCalendar(),
    )
    assert found.balance == 12999
    assert not found.blocked_by_fines
    assert found.lending_refusal("checkout") is None


def test_fines_accruing_during_a_closure_do_not_count_towards_the_block() -> None:
    closed = FineCalendar((Closure(TODAY - 30 * DAY),))
    found = standing(
        PatronStatus.ACTIVE,
        [loan(due_on=TODAY - 20 * DAY)],
        recorded_fines=0,
        payments=0,
        holds=0,
        today=TODAY,
        rules=RULES,
        calendar=closed,
    )
    assert (found.balance, found.overdue) == (0, 1)


# --- the hold queue and the hold shelf ------------------------------------------------------

T0 = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)


def hold(
    hold_id: int,
    minutes: int,
    status: HoldStatus = HoldStatus.WAITING,
    *,
    until: date | None = None,
) -> Hold:
    return Hold(
        hold_id,
        patron_id=1000 + hold_id,
        title_id=50,
        pickup="CEN",
        placed_at=T0 + timedelta(minutes=minutes),
        status=status,
        item_id=None if status is HoldStatus.WAITING else 9,
        ready_until=until,
    )


QUEUE = [
    hold(1, 0, HoldStatus.READY, until=TODAY),  # served: no longer in the queue
    hold(2, 10),
    hold(3, 5),  # placed before 2, stored after it
    hold(4, 5),  # the same moment as 3: the lower id first
    hold(5, 1, HoldStatus.CANCELLED),
    hold(6, 2, HoldStatus.EXPIRED),
    hold(7, 3, HoldStatus.COLLECTED),
    hold(8, 30),
]


@pytest.mark.parametrize(
    ("hold_id", "position"),
    [(3, 1), (4, 2), (2, 3), (8, 4), (1, None), (5, None), (6, None), (7, None)],
)
def test_queue_position_counts_waiting_holds_by_placed_at_then_id(
    hold_id: int, position: int | None
) -> None:
    target = next(h for h in QUEUE if h.id == hold_id)
    assert queue_position(target, QUEUE) == position


def test_a_hold_outside_the_queue_has_no_position() -> None:
    assert queue_position(hold(99, 0), QUEUE) is None


@pytest.mark.parametrize(
    ("queue", "first"),
    [
        pytest.param(QUEUE, 3, id="earliest-placed"),
        pytest.param(list(reversed(QUEUE)), 3, id="order-of-the-list-does-not-matter"),
        pytest.param([hold(9, 0), hold(4, 0), hold(6, 0)], 4, id="a-tie-goes-to-the-lower-id"),
        pytest.param([h for h in QUEUE if h.id not in {2, 3, 4, 8}], None, id="none-waiting"),
        pytest.param([], None, id="empty"),
    ],
)
def test_next_in_queue(queue: list[Hold], first: int | None) -> None:
    found = next_in_queue(queue)
    assert (found.id if found else None) == first


def test_a_copy_waits_on_the_hold_shelf_for_the_pickup_days() -> None:
    assert ready_until(TODAY, RULES) == TODAY + 7 * DAY
    assert ready_until(TODAY, replace(RULES, hold_pickup_days=3)) == TODAY + 3 * DAY


@pytest.mark.parametrize(
    ("held", "today", "lapsed"),
    [
        pytest.param(hold(1, 0, HoldStatus.READY, until=TODAY), TODAY - DAY, False, id="before"),
        pytest.param(hold(1, 0, HoldStatus.READY, until=TODAY), TODAY, False, id="last-day"),
        pytest.param(hold(1, 0, HoldStatus.READY, until=TODAY), TODAY + DAY, True, id="day-after"),
        pytest.param(hold(1, 0, HoldStatus.READY, until=TODAY), TODAY + 30 * DAY, True, id="long"),
        pytest.param(hold(1, 0, HoldStatus.READY), TODAY + DAY, False, id="ready-without-date"),
        pytest.param(hold(1, 0), TODAY + 30 * DAY, False, id="waiting-never-lapses"),
        pytest.param(
            hold(1, 0, HoldStatus.COLLECTED, until=TODAY), TODAY + DAY, False, id="collected"
        ),
        pytest.param(
            hold(1, 0, HoldStatus.EXPIRED, until=TODAY), TODAY + DAY, False, id="already-expired"
        ),
    ],
)
def test_an_uncollected_hold_expires_the_day_after_the_last_pickup_day(
    held: Hold, today: date, lapsed: bool
) -> None:
    assert expired(held, today) is lapsed


# --- fines ------------------------------------------------------------------------------------

DUE = date(2026, 12, 15)
CAPPED = replace(RULES, fine_per_day=200, fine_cap=1000)


@pytest.mark.parametrize(
    ("through", "rules", "fine"),
    [
        pytest.param(DUE - 5 * DAY, RULES, 0, id="returned-early"),
        pytest.param(DUE, RULES, 0, id="returned-on-the-due-date"),
        pytest.param(DUE + DAY, RULES, 150, id="one-day-late"),
        pytest.param(DUE + 10 * DAY, RULES, 1500, id="ten-days-late"),
        pytest.param(DUE + 86 * DAY, RULES, 12900, id="just-below-the-cap"),
        pytest.param(DUE + 87 * DAY, RULES, 13000, id="capped-on-the-87th-day"),
        pytest.param(DUE + 400 * DAY, RULES, 13000, id="capped-long-after"),
        pytest.param(DUE + 4 * DAY, CAPPED, 800, id="other-rules"),
        pytest.param(DUE + 5 * DAY, CAPPED, 1000, id="other-rules-at-the-cap"),
        pytest.param(DUE + 6 * DAY, CAPPED, 1000, id="other-rules-capped"),
        pytest.param(DUE + 6 * DAY, replace(RULES, fine_per_day=0), 0, id="no-fines"),
    ],
)
def test_fines_per_overdue_day_capped_per_item(
    through: date, rules: CirculationRules, fine: int
) -> None:
    assert overdue_fine(DUE, through, rules, FineCalendar()) == fine


# --- the fine calendar (seed 001) -------------------------------------------------------------

D = date.fromisoformat
SEED_CLOSED = close(FineCalendar(), D("2021-01-28"), None)
SEED_RESUMED = resume(SEED_CLOSED, D("2021-03-05"))


def test_seed_001_resuming_from_5_march_ends_the_open_closure_on_4_march() -> None:
    assert SEED_CLOSED.closures == (Closure(D("2021-01-28"), None),)
    assert SEED_RESUMED.closures == (Closure(D("2021-01-28"), D("2021-03-04")),)
    assert not SEED_RESUMED.charges_on(D("2021-03-04"))
    assert SEED_RESUMED.charges_on(D("2021-03-05"))
    assert SEED_RESUMED.charges_on(D("2021-01-27"))
    assert not SEED_RESUMED.charges_on(D("2021-01-28"))


@pytest.mark.parametrize(
    ("calendar", "due_on", "through", "days"),
    [
        # Seed 001: due while the libraries were closed, returned after fines resumed.
        pytest.param(SEED_RESUMED, "2021-02-10", "2021-03-10", 6, id="seed-001-5-to-10-march"),
        pytest.param(SEED_RESUMED, "2021-02-10", "2021-03-04", 0, id="back-before-resumption"),
        pytest.param(SEED_RESUMED, "2021-02-10", "2021-03-05", 1, id="back-on-resumption-day"),
        pytest.param(SEED_RESUMED, "2021-03-04", "2021-03-10", 6, id="due-on-last-closed-day"),
        pytest.param(SEED_RESUMED, "2021-03-05", "2021-03-10", 5, id="due-on-resumption-day"),
        # Due before the closure: the days before it count, the closed days do not.
        pytest.param(SEED_RESUMED, "2021-01-20", "2021-03-10", 7 + 6, id="due-before-closing"),
        pytest.param(SEED_RESUMED, "2021-01-20", "2021-01-27", 7, id="back-before-closing"),
        # Closed until further notice: nothing accrues, however long.
        pytest.param(SEED_CLOSED, "2021-02-10", "2021-12-31", 0, id="still-closed"),
        pytest.param(SEED_CLOSED, "2021-01-20", "2021-12-31", 7, id="still-closed-due-before"),
    ],
)
def test_fines_across_an_open_ended_closure(
    calendar: FineCalendar, due_on: str, through: str, days: int
) -> None:
    assert calendar.chargeable_days(D(due_on), D(through)) == days
    assert overdue_fine(D(due_on), D(through), RULES, calendar) == days * 150


FIXED = close(FineCalendar(), D("2026-12-20"), D("2026-12-27"))  # eight days
ONE_DAY = close(FineCalendar(), D("2026-12-25"), D("2026-12-25"))
SEVERAL = resume(
    close(
        close(close(FineCalendar(), D("2026-12-20"), D("2026-12-27")), D("2027-01-10"), None),
        D("2027-01-01"),
        D("2027-01-01"),
    ),
    D("2027-01-20"),
)
OVERLAPPING = close(FIXED, D("2026-12-24"), D("2026-12-31"))


@pytest.mark.parametrize(
    ("calendar", "through", "days"),
    [
        pytest.param(FIXED, "2026-12-19", 4, id="fixed-before-it"),
        pytest.param(FIXED, "2026-12-24", 4, id="fixed-during-it"),
        pytest.param(FIXED, "2026-12-27", 4, id="fixed-on-its-last-day"),
        pytest.param(FIXED, "2026-12-28", 5, id="fixed-after-it"),
        pytest.param(FIXED, "2027-01-05", 13, id="fixed-well-after"),
        pytest.param(ONE_DAY, "2026-12-31", 15, id="a-single-day"),
        # 16 Dec to 25 Jan is 41 days: minus 8 (20-27 Dec), 1 (1 Jan), 10 (10-19 Jan).
        pytest.param(SEVERAL, "2027-01-25", 41 - 8 - 1 - 10, id="several"),
        pytest.param(SEVERAL, "2027-01-09", 25 - 8 - 1, id="several-before-the-last"),
        # 20-31 Dec closed once, though two closures cover 24-27 Dec.
        pytest.param(OVERLAPPING, "2027-01-05", 21 - 12, id="overlapping-count-once"),
    ],
)
def test_fines_across_closures_with_a_fixed_end(
    calendar: FineCalendar, through: str, days: int
) -> None:
    assert calendar.chargeable_days(DUE, D(through)) == days
    assert overdue_fine(DUE, D(through), RULES, calendar) == days * 150


def test_several_closures_keep_their_order_and_only_the_open_one_is_ended() -> None:
    assert SEVERAL.closures == (
        Closure(D("2026-12-20"), D("2026-12-27")),
        Closure(D("2027-01-10"), D("2027-01-19")),
        Closure(D("2027-01-01"), D("2027-01-01")),
    )


def test_the_cap_holds_across_closures() -> None:
    assert overdue_fine(DUE, D("2028-01-01"), RULES, SEVERAL) == 13000


def test_resume_ends_only_closures_open_before_the_resumption_date() -> None:
    calendar = close(SEED_CLOSED, D("2021-04-01"), None)
    resumed = resume(calendar, D("2021-03-05"))
    assert resumed.closures == (
        Closure(D("2021-01-28"), D("2021-03-04")),
        Closure(D("2021-04-01"), None),  # closed later: still closed
    )
    again = resume(resumed, D("2021-04-20"))
    assert again.closures[1] == Closure(D("2021-04-01"), D("2021-04-19"))


@pytest.mark.parametrize(
    "calendar",
    [
        pytest.param(FineCalendar(), id="no-closures"),
        pytest.param(FIXED, id="only-fixed-closures"),
        pytest.param(SEED_RESUMED, id="already-resumed"),
        pytest.param(close(FineCalendar(), D("2021-04-01"), None), id="open-only-later"),
    ],
)
def test_resume_refuses_when_no_closure_is_open(calendar: FineCalendar) -> None:
    assert outcome(lambda: resume(calendar, D("2021-03-05"))) == (
        "calendar.nothing_to_resume",
        {},
    )


@pytest.mark.parametrize(
    ("start", "until"),
    [
        pytest.param("2021-01-28", "2021-01-28", id="one-day"),
        pytest.param("2021-01-28", "2021-03-04", id="fixed"),
        pytest.param("2021-01-28", None, id="open-ended"),
    ],
)
def test_close_adds_a_closure(start: str, until: str | None) -> None:
    calendar = close(FIXED, D(start), D(until) if until else None)
    assert calendar.closures == (*FIXED.closures, Closure(D(start), D(until) if until else None))


@pytest.mark.parametrize("until", ["2021-01-27", "2020-01-28"])
def test_close_refuses_an_end_before_the_start(until: str) -> None:
    assert outcome(lambda: close(FineCalendar(), D("2021-01-28"), D(until))) == (
        "calendar.bad_period",
        {},
    )


# --- PolyU requests: the text of a field ------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "raw", "required", "expected"),
    [
        pytest.param("title", "Dream of the Red Chamber", True, "Dream of the Red Chamber"),
        pytest.param("title", "  紅樓夢 ", True, "紅樓夢", id="trimmed-chinese"),
        pytest.param("title", "Dream   of\u3000the  Red", True, "Dream of the Red", id="spaces"),
        pytest.param("title", "Cafe\u0301 society", True, "Café society", id="nfc"),
        pytest.param("title", "", True, ("request.title_missing", {}), id="title-empty"),
        pytest.param("title", "   ", True, ("request.title_missing", {}), id="title-blank"),
        pytest.param("title", None, True, ("request.title_missing", {}), id="title-none"),
        pytest.param("author", "", False, "", id="optional-empty"),
        pytest.param("note", None, False, "", id="optional-none"),
        pytest.param(
            "note",
            "Chapter 3 only,\r\nplease.\tThanks",
            False,
            "Chapter 3 only, please. Thanks",
            id="line-breaks-in-a-note-become-spaces",
        ),
        pytest.param(
            "title",
            "<script>alert(1)</script>",
            True,
            ("request.invalid_characters", {"field": "title"}),
            id="markup",
        ),
        pytest.param(
            "author", "Cao > Gao", False, ("request.invalid_characters", {"field": "author"})
        ),
        pytest.param("note", "a<b", False, ("request.invalid_characters", {"field": "note"})),
        pytest.param(
            "title", "Dream\x00", True, ("request.invalid_characters", {"field": "title"}), id="nul"
        ),
        pytest.param(
            "note", "bell\x07", False, ("request.invalid_characters", {"field": "note"}), id="bel"
        ),
        pytest.param(
            "title",
            "a\u202eb",
            True,
            ("request.invalid_characters", {"field": "title"}),
            id="bidi-override",
        ),
        pytest.param(
            "author",
            "zero\u200bwidth",
            False,
            ("request.invalid_characters", {"field": "author"}),
            id="format-character",
        ),
        pytest.param(
            "note",
            "private\ue000",
            False,
            ("request.invalid_characters", {"field": "note"}),
            id="private-use",
        ),
        pytest.param(
            "title", "'; DROP TABLE titles; --", True, "'; DROP TABLE titles; --", id="sql-is-text"
        ),
    ],
)
def test_request_text(name: str, raw: str | None, required: bool, expected: Outcome) -> None:
    assert outcome(lambda: request_text(name, raw, required=required)) == expected


@pytest.mark.parametrize(("name", "limit"), sorted(REQUEST_LIMITS.items()))
def test_request_text_is_bounded_in_code_points_after_normalisation(name: str, limit: int) -> None:
    assert (name, limit) in {("title", 300), ("author", 200), ("note", 1000)}
    assert request_text(name, "字" * limit) == "字" * limit
    decomposed = "e\u0301" * limit  # twice the limit in code points before NFC
    assert request_text(name, decomposed) == "é" * limit
    assert outcome(lambda: request_text(name, "x" * (limit + 1))) == (
        "request.too_long",
        {"field": name, "max": limit},
    )
