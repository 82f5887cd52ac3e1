"""The account behind the login (R8, R28) end to end over storage, on SQLite and
PostgreSQL: renewals, check-outs, reservations and the hold shelf, fines on the stored
fine calendar (seed 001), payments, who may touch what, PolyU's requests, the audit
trail. Every refusal is asserted by its code, and the stored state afterwards."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text

from patronauth.bootstrap import App
from patronauth.domain.circulation import (
    Closure,
    FineCalendar,
    Hold,
    HoldStatus,
    Item,
    ItemStatus,
    Loan,
    RequestKind,
    RequestStatus,
    expired,
    standing,
)
from patronauth.domain.errors import Conflict, InvalidInput, NotFound, Refused
from patronauth.domain.identifiers import lockout_key
from patronauth.domain.patrons import PatronStatus
from patronauth.services.catalogue import add_item, search
from patronauth.services.fines import close_calendar, fine_calendar, pay_fines, resume_calendar
from patronauth.services.holds import cancel_reservation, place_reservation
from patronauth.services.interfaces import AuditEvent, Ports
from patronauth.services.lending import library_today, standing_in
from patronauth.services.loans import CheckinResult, checkin, checkout, renew_all, renew_loan
from patronauth.services.lookup import find_patron
from patronauth.services.record import record
from patronauth.services.requests import requests_of, set_request_status, submit_request
from tests.support import STAFF, clock_of, register

DAY = timedelta(days=1)
TODAY = date(2026, 11, 24)  # the test clock's date in Hong Kong (18:00)
DUE = TODAY + 21 * DAY  # HKPL lends for 21 days
PATRONS = {
    "HKPL0001": ("hkpl", {"phone": "9123 4567"}),
    "HKPL0002": ("hkpl", {"phone": "6123 9876"}),
    "HKPL0003": ("hkpl", {"phone": "5123 1111"}),
    "21012345A": ("polyu", {"id_number": "Z123456(1)"}),
    "21054321B": ("polyu", {"id_number": "A123456(3)"}),
}


@dataclass
class Desk:
    """A library's desk over a real database: staff actions and a look at what is stored."""

    app: App

    @property
    def ports(self) -> Ports:
        return self.app.ports

    def patron(self, barcode: str) -> int:
        institution, fields = PATRONS[barcode]
        with self.ports.uow() as uow:
            found = find_patron(uow, self.ports.profiles, barcode)
        if found is None:
            register(self.app, institution, barcode, **fields)
            with self.ports.uow() as uow:
                found = find_patron(uow, self.ports.profiles, barcode)
        assert found is not None
        return found.patron.id

    def copy(self, barcode: str, title: str = "Dream of the Red Chamber", **more: Any) -> Item:
        institution = more.pop("institution", "hkpl")
        return add_item(self.ports, institution, barcode=barcode, title=title, staff=STAFF, **more)

    def lend(self, patron: str, item: str, institution: str | None = None) -> Loan:
        return checkout(
            self.ports, patron, item, actor=STAFF, channel="staff", institution=institution
        ).loan

    def give_back(self, item: str, institution: str = "hkpl") -> CheckinResult:
        return checkin(self.ports, item, institution, actor=STAFF, channel="staff")

    def reserve(self, patron: str, title_id: int, pickup: str = "KLN") -> Hold:
        return place_reservation(self.ports, self.patron(patron), title_id, pickup, channel="web")

    def renew(self, patron: str, loan_id: int) -> date:
        return renew_loan(self.ports, self.patron(patron), loan_id, channel="web")

    def days(self, count: int) -> None:
        clock_of(self.app).advance(count * 86400)

    def today(self, institution: str = "hkpl") -> date:
        return library_today(self.ports, self.ports.profiles.get(institution))

    # --- what is stored ---------------------------------------------------------------

    def loan(self, loan_id: int) -> Loan | None:
        with self.ports.uow() as uow:
            found: Loan | None = uow.loans.loan(loan_id)
        return found

    def item(self, barcode: str, institution: str = "hkpl") -> Item:
        with self.ports.uow() as uow:
            found: Item | None = uow.catalogue.item_by_barcode(institution, barcode)
        assert found is not None
        return found

    def hold(self, hold_id: int) -> Hold:
        with self.ports.uow() as uow:
            found: Hold | None = uow.holds.hold(hold_id)
        assert found is not None
        return found

    def holds_of(self, patron: str) -> list[Hold]:
        patron_id = self.patron(patron)
        with self.ports.uow() as uow:
            found: list[Hold] = uow.holds.holds_of_patron(patron_id)
        return found

    def statuses(self, *holds: Hold) -> list[HoldStatus]:
        return [self.hold(h.id).status for h in holds]

    def open_loans(self, patron: str) -> list[Loan]:
        patron_id = self.patron(patron)
        with self.ports.uow() as uow:
            found: list[Loan] = uow.loans.open_loans(patron_id)
        return found

    def charge(self, patron: str, amount: int) -> None:
        """A fine recorded earlier (an overdue item long since returned)."""
        patron_id = self.patron(patron)
        with self.ports.uow() as uow:
            uow.fines.add_fine(patron_id, None, amount, "overdue", TODAY)
            uow.commit()

    def set_status(self, patron: str, status: PatronStatus) -> None:
        patron_id = self.patron(patron)
        with self.ports.uow() as uow:
            uow.patrons.set_status(patron_id, status)
            uow.commit()

    def set_item(self, barcode: str, status: ItemStatus) -> None:
        item_id = self.item(barcode).id
        with self.ports.uow() as uow:
            uow.catalogue.set_item_status(item_id, status)
            uow.commit()

    def fines(self, patron: str) -> list[tuple[int | None, int]]:
        patron_id = self.patron(patron)
        with self.ports.uow() as uow:
            return [(f.loan_id, f.amount) for f in uow.fines.fines_of(patron_id)]

    def trail(self, patron: str) -> list[AuditEvent]:
        """The patron's audit events, oldest first."""
        patron_id = self.patron(patron)
        with self.ports.uow() as uow:
            events = uow.audit.recent(patron_id=patron_id, limit=1000)
        return [e.event for e in reversed(events)]


def refusal(excinfo: pytest.ExceptionInfo[Refused]) -> tuple[str, dict[str, Any]]:
    (violation,) = excinfo.value.violations
    return violation.code, dict(violation.params)


@pytest.fixture
def desk(app: App) -> Desk:
    desk = Desk(app)
    for barcode in ("HKPL0001", "HKPL0002", "HKPL0003"):
        desk.patron(barcode)
    desk.copy("B0001")
    return desk


# --- renewals ------------------------------------------------------------------------------


def reserved_by_another(desk: Desk, loan: Loan) -> None:
    desk.reserve("HKPL0002", loan.title_id)


def renewed_five_times(desk: Desk, loan: Loan) -> None:
    for _ in range(5):
        desk.renew("HKPL0001", loan.id)


def fined(amount: int) -> Callable[[Desk, Loan], None]:
    return lambda desk, _loan: desk.charge("HKPL0001", amount)


def status(value: PatronStatus) -> Callable[[Desk, Loan], None]:
    return lambda desk, _loan: desk.set_status("HKPL0001", value)


def late(days: int) -> Callable[[Desk, Loan], None]:
    return lambda desk, _loan: desk.days(21 + days)


@pytest.mark.parametrize(
    ("arrange", "expected"),
    [
        pytest.param(lambda desk, loan: None, (DUE + 21 * DAY, 1), id="from-the-due-date"),
        pytest.param(renewed_five_times, ("renewal.max_renewals", {"max": 5}), id="max"),
        pytest.param(reserved_by_another, ("renewal.reserved", {}), id="reserved"),
        pytest.param(fined(13000), ("renewal.fines_block", {"balance": 13000}), id="fines-13000"),
        pytest.param(fined(12999), (DUE + 21 * DAY, 1), id="fines-12999"),
        pytest.param(status(PatronStatus.EXPIRED), ("renewal.account_expired", {}), id="expired"),
        pytest.param(status(PatronStatus.BARRED), ("renewal.account_barred", {}), id="barred"),
        pytest.param(
            status(PatronStatus.PENDING_REGISTRATION), ("renewal.account_pending", {}), id="pending"
        ),
        # HKPL lets overdue items be renewed: a full period from the day of renewal.
        pytest.param(late(3), (TODAY + 45 * DAY, 1), id="overdue-renewed-from-today"),
        # Overdue for 87 days: the item's own fine reaches the HK$130 block.
        pytest.param(late(87), ("renewal.fines_block", {"balance": 13000}), id="overdue-fined"),
    ],
)
def test_renewal(
    desk: Desk, arrange: Callable[[Desk, Loan], None], expected: tuple[Any, Any]
) -> None:
    loan = desk.lend("HKPL0001", "B0001")
    arrange(desk, loan)
    before = desk.loan(loan.id)
    assert before is not None
    if isinstance(expected[0], str):
        with pytest.raises(Refused) as refused:
            desk.renew("HKPL0001", loan.id)
        assert type(refused.value) is Refused
        assert refusal(refused) == expected
        assert desk.loan(loan.id) == before  # nothing changed
        last = desk.trail("HKPL0001")[-1]
        assert (last.action, last.outcome, last.detail) == (
            "renewal",
            expected[0],
            {"loan": str(loan.id)},
        )
        return
    due = desk.renew("HKPL0001", loan.id)
    after = desk.loan(loan.id)
    assert after is not None
    assert (due, after.renewals - before.renewals) == expected
    assert after.due_on == due
    last = desk.trail("HKPL0001")[-1]
    assert (last.action, last.outcome, last.detail) == (
        "renewal",
        "ok",
        {"loan": str(loan.id), "due": due.isoformat()},
    )


def test_renewing_an_overdue_item_charges_its_fine_so_far(desk: Desk) -> None:
    loan = desk.lend("HKPL0001", "B0001")
    desk.days(21 + 3)
    assert record(desk.ports, desk.patron("HKPL0001")).standing.balance == 450
    due = desk.renew("HKPL0001", loan.id)
    assert due == desk.today() + 21 * DAY
    assert desk.fines("HKPL0001") == [(loan.id, 450)]  # not wiped out by the new due date
    mine = record(desk.ports, desk.patron("HKPL0001"))
    assert (mine.standing.balance, mine.accruing, mine.standing.overdue) == (450, 0, 0)
    desk.days(21)
    assert desk.give_back("B0001").fine == 0  # back on the new due date
    assert desk.fines("HKPL0001") == [(loan.id, 450)]


def test_renewing_an_item_overdue_only_during_a_closure_charges_nothing(desk: Desk) -> None:
    loan = desk.lend("HKPL0001", "B0001")
    close_calendar(desk.ports, "hkpl", DUE - 2 * DAY, None, staff=STAFF)
    desk.days(21 + 5)
    desk.renew("HKPL0001", loan.id)
    assert desk.fines("HKPL0001") == []


def test_overdue_items_block_renewals_where_the_profile_says_so(desk: Desk) -> None:
    desk.patron("21012345A")
    desk.copy("P0001", "Computer Networks", institution="polyu")
    desk.copy("P0002", "Operating Systems", institution="polyu")
    first = desk.lend("21012345A", "P0001")  # PolyU: 28 days
    desk.days(10)
    second = desk.lend("21012345A", "P0002")
    desk.days(19)  # the first is a day overdue, the second is not
    for loan in (first, second):
        with pytest.raises(Refused) as refused:
            desk.renew("21012345A", loan.id)
        assert refusal(refused) == ("renewal.overdue_block", {"overdue": 1})
        assert desk.loan(loan.id) == loan
    desk.give_back("P0001", "polyu")
    assert desk.fines("21012345A") == [(first.id, 200)]
    assert desk.renew("21012345A", second.id) == second.due_on + 28 * DAY


def test_a_copy_set_aside_for_someone_else_does_not_block_a_renewal(desk: Desk) -> None:
    loan = desk.lend("HKPL0001", "B0001")
    second = desk.copy("B0002")
    hold = desk.reserve("HKPL0002", loan.title_id)
    assert (hold.status, hold.item_id) == (HoldStatus.READY, second.id)
    assert desk.renew("HKPL0001", loan.id) == DUE + 21 * DAY


@pytest.mark.parametrize("whose", ["another-patron", "returned", "unknown"])
def test_a_loan_that_is_not_the_patrons_own_is_not_found(desk: Desk, whose: str) -> None:
    loan = desk.lend("HKPL0001", "B0001")
    patron, loan_id = "HKPL0002", loan.id
    if whose == "returned":
        desk.give_back("B0001")
        patron = "HKPL0001"
    elif whose == "unknown":
        patron, loan_id = "HKPL0001", loan.id + 1000
    with pytest.raises(NotFound) as refused:
        desk.renew(patron, loan_id)
    assert refusal(refused) == ("loan.not_found", {})
    if whose == "another-patron":
        assert desk.loan(loan.id) == loan
        assert [e.action for e in desk.trail("HKPL0002")] == ["patron.add"]


def test_renew_all_says_why_each_loan_was_not_renewed(desk: Desk) -> None:
    desk.copy("B0002", "Journey to the West")
    desk.copy("B0003", "Water Margin")
    first = desk.lend("HKPL0001", "B0001")
    second = desk.lend("HKPL0001", "B0002")
    third = desk.lend("HKPL0001", "B0003")
    desk.reserve("HKPL0002", first.title_id)
    for _ in range(5):
        desk.renew("HKPL0001", second.id)
    results = renew_all(desk.ports, desk.patron("HKPL0001"), channel="app")
    outcome = {r.loan_id: (r.ok, r.due_on, r.refusal.code if r.refusal else None) for r in results}
    assert outcome == {
        first.id: (False, None, "renewal.reserved"),
        second.id: (False, None, "renewal.max_renewals"),
        third.id: (True, DUE + 21 * DAY, None),
    }
    stored = {loan.id: (loan.due_on, loan.renewals) for loan in desk.open_loans("HKPL0001")}
    assert stored == {
        first.id: (DUE, 0),
        second.id: (DUE + 5 * 21 * DAY, 5),
        third.id: (DUE + 21 * DAY, 1),
    }
    renewals = [
        (e.outcome, e.detail["loan"], e.channel)
        for e in desk.trail("HKPL0001")
        if e.action == "renewal" and e.channel == "app"
    ]
    assert sorted(renewals) == sorted(
        [
            ("renewal.reserved", str(first.id), "app"),
            ("renewal.max_renewals", str(second.id), "app"),
            ("ok", str(third.id), "app"),
        ]
    )


def test_renew_all_charges_an_overdue_loan_its_fine_and_renews_the_rest(desk: Desk) -> None:
    desk.copy("B0002", "Journey to the West")
    desk.copy("B0003", "Water Margin")
    overdue = desk.lend("HKPL0001", "B0001")
    desk.days(10)
    second = desk.lend("HKPL0001", "B0002")
    third = desk.lend("HKPL0001", "B0003")
    desk.days(21 + 3 - 10)  # the first is 3 days overdue, the others due in 7 days
    results = renew_all(desk.ports, desk.patron("HKPL0001"), channel="web")
    today = desk.today()
    assert [(r.loan_id, r.due_on) for r in results] == [
        (overdue.id, today + 21 * DAY),
        (second.id, second.due_on + 21 * DAY),
        (third.id, third.due_on + 21 * DAY),
    ]
    assert desk.fines("HKPL0001") == [(overdue.id, 450)]
    stored = {loan.id: (loan.due_on, loan.renewals) for loan in desk.open_loans("HKPL0001")}
    assert stored == {r.loan_id: (r.due_on, 1) for r in results}
    mine = record(desk.ports, desk.patron("HKPL0001"))
    assert (mine.standing.balance, mine.standing.overdue) == (450, 0)


def test_renew_all_with_nothing_on_loan(desk: Desk) -> None:
    assert renew_all(desk.ports, desk.patron("HKPL0001"), channel="web") == []


# --- check-outs ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("arrange", "code"),
    [
        pytest.param(lambda d: d.lend("HKPL0002", "B0001"), "checkout.on_loan", id="on-loan"),
        pytest.param(
            lambda d: d.reserve("HKPL0002", d.item("B0001").title_id),
            "checkout.held_for_another",
            id="held-for-another",
        ),
        pytest.param(
            lambda d: d.set_item("B0001", ItemStatus.LOST), "checkout.item_lost", id="lost"
        ),
        pytest.param(
            lambda d: d.set_status("HKPL0001", PatronStatus.EXPIRED),
            "checkout.account_expired",
            id="expired",
        ),
        pytest.param(
            lambda d: d.set_status("HKPL0001", PatronStatus.BARRED),
            "checkout.account_barred",
            id="barred",
        ),
        pytest.param(
            lambda d: d.set_status("HKPL0001", PatronStatus.PENDING_REGISTRATION),
            "checkout.account_pending",
            id="pending",
        ),
        pytest.param(lambda d: d.charge("HKPL0001", 13000), "checkout.fines_block", id="fines"),
    ],
)
def test_checkout_refused(desk: Desk, arrange: Callable[[Desk], object], code: str) -> None:
    arrange(desk)
    item = desk.item("B0001")
    with pytest.raises(Refused) as refused:
        desk.lend("HKPL0001", "B0001")
    assert refused.value.code == code
    assert desk.item("B0001") == item
    assert desk.open_loans("HKPL0001") == []


def test_checkout_stops_at_the_most_items_allowed(desk: Desk) -> None:
    for number in range(2, 10):
        desk.copy(f"B000{number}", f"Volume {number}")
    lent = [desk.lend("HKPL0001", f"B000{n}") for n in range(1, 9)]
    assert [loan.due_on for loan in lent] == [DUE] * 8
    with pytest.raises(Refused) as refused:
        desk.lend("HKPL0001", "B0009")
    assert refusal(refused) == ("checkout.too_many_items", {"max": 8})
    assert desk.item("B0009").status is ItemStatus.AVAILABLE


def test_checkout_is_blocked_by_an_overdue_item_where_the_profile_says_so(desk: Desk) -> None:
    desk.patron("21012345A")
    desk.copy("P0001", "Computer Networks", institution="polyu")
    desk.copy("P0002", "Operating Systems", institution="polyu")
    desk.lend("21012345A", "P0001")
    desk.days(29)
    with pytest.raises(Refused) as refused:
        desk.lend("21012345A", "P0002")
    assert refusal(refused) == ("checkout.overdue_block", {"overdue": 1})
    desk.lend("HKPL0001", "B0001")
    desk.days(29)  # HKPL: overdue items block nothing
    desk.copy("B0002", "Journey to the West")
    assert desk.lend("HKPL0001", "B0002").due_on == desk.today() + 21 * DAY


def test_unknown_item_barcode(desk: Desk) -> None:
    with pytest.raises(NotFound) as refused:
        desk.lend("HKPL0001", "NO-SUCH")
    assert refusal(refused) == ("item.not_found", {})
    with pytest.raises(NotFound):
        desk.lend("HKPL0001", "B0001", institution="polyu")  # another library's copy


def test_a_held_copy_goes_only_to_its_patron_and_collects_the_hold(desk: Desk) -> None:
    title_id = desk.item("B0001").title_id
    hold = desk.reserve("HKPL0002", title_id)
    with pytest.raises(Refused) as refused:
        desk.lend("HKPL0001", "B0001")
    assert refused.value.code == "checkout.held_for_another"
    lent = checkout(desk.ports, "HKPL0002", "B0001", actor=STAFF, channel="sip2")
    assert lent.collected_hold
    assert (lent.loan.due_on, lent.title.id) == (DUE, title_id)
    assert desk.hold(hold.id).status is HoldStatus.COLLECTED
    assert desk.item("B0001").status is ItemStatus.ON_LOAN
    assert desk.holds_of("HKPL0002") == []


def test_a_new_copy_goes_to_the_first_waiting_reservation(desk: Desk) -> None:
    title_id = desk.item("B0001").title_id
    desk.lend("HKPL0003", "B0001")
    hold = desk.reserve("HKPL0002", title_id)
    assert hold.status is HoldStatus.WAITING
    added = desk.copy("B0002")
    assert added.title_id == title_id
    assert desk.item("B0002").status is ItemStatus.HELD
    ready = desk.hold(hold.id)
    assert (ready.status, ready.item_id) == (HoldStatus.READY, added.id)
    with pytest.raises(Refused) as refused:
        desk.lend("HKPL0001", "B0002")
    assert refused.value.code == "checkout.held_for_another"
    assert desk.lend("HKPL0002", "B0002").due_on == DUE
    assert desk.holds_of("HKPL0002") == []


def test_a_copy_off_the_shelf_fills_the_patrons_reservation_and_frees_the_one_set_aside(
    desk: Desk,
) -> None:
    title_id = desk.item("B0001").title_id
    hold = desk.reserve("HKPL0002", title_id)
    assert (hold.status, hold.item_id) == (HoldStatus.READY, desk.item("B0001").id)
    desk.copy("B0002")
    lent = checkout(desk.ports, "HKPL0002", "B0002", actor=STAFF, channel="staff")
    assert lent.collected_hold
    collected = desk.hold(hold.id)
    assert (collected.status, collected.item_id) == (HoldStatus.COLLECTED, lent.loan.item_id)
    assert desk.holds_of("HKPL0002") == []
    assert desk.item("B0001").status is ItemStatus.AVAILABLE
    assert desk.lend("HKPL0001", "B0001").due_on == DUE


# --- reservations -------------------------------------------------------------------------


def test_a_copy_on_the_shelf_is_set_aside_at_once(desk: Desk) -> None:
    title_id = desk.item("B0001").title_id
    hold = desk.reserve("HKPL0002", title_id, "STN")
    assert hold.status is HoldStatus.READY
    assert hold.item_id == desk.item("B0001").id
    assert hold.ready_until == TODAY + 7 * DAY
    assert hold.pickup == "STN"
    assert desk.item("B0001").status is ItemStatus.HELD
    mine = record(desk.ports, desk.patron("HKPL0002"))
    assert [(v.hold.id, v.position, v.title.title) for v in mine.holds] == [
        (hold.id, None, "Dream of the Red Chamber")
    ]
    assert mine.standing.holds == 1


def reserved_already(desk: Desk, title_id: int) -> None:
    desk.reserve("HKPL0001", title_id)


def borrowed_already(desk: Desk, title_id: int) -> None:
    desk.copy("B0002")
    desk.lend("HKPL0001", "B0002")


def eight_reservations(desk: Desk, title_id: int) -> None:
    for number in range(2, 10):
        other = desk.copy(f"C000{number}", f"Volume {number}")
        desk.reserve("HKPL0001", other.title_id)


@pytest.mark.parametrize(
    ("arrange", "pickup", "expected"),
    [
        pytest.param(lambda d, t: None, "XYZ", ("hold.unknown_pickup", {}), id="unknown-pickup"),
        pytest.param(lambda d, t: None, "", ("hold.unknown_pickup", {}), id="no-pickup"),
        pytest.param(reserved_already, "KLN", ("hold.duplicate", {}), id="duplicate"),
        pytest.param(borrowed_already, "KLN", ("hold.already_on_loan", {}), id="on-loan"),
        pytest.param(eight_reservations, "KLN", ("hold.too_many", {"max": 8}), id="too-many"),
        pytest.param(
            lambda d, t: d.set_status("HKPL0001", PatronStatus.EXPIRED),
            "KLN",
            ("hold.account_expired", {}),
            id="expired",
        ),
        pytest.param(
            lambda d, t: d.set_status("HKPL0001", PatronStatus.BARRED),
            "KLN",
            ("hold.account_barred", {}),
            id="barred",
        ),
        pytest.param(
            lambda d, t: d.set_status("HKPL0001", PatronStatus.PENDING_REGISTRATION),
            "KLN",
            ("hold.account_pending", {}),
            id="pending",
        ),
        pytest.param(
            lambda d, t: d.charge("HKPL0001", 13000),
            "KLN",
            ("hold.fines_block", {"balance": 13000}),
            id="fines-13000",
        ),
        pytest.param(lambda d, t: d.charge("HKPL0001", 12999), "KLN", None, id="fines-12999"),
    ],
)
def test_reservation(
    desk: Desk, arrange: Callable[[Desk, int], object], pickup: str, expected: Any
) -> None:
    title_id = desk.item("B0001").title_id
    desk.lend("HKPL0003", "B0001")  # a reservation that is placed waits its turn
    arrange(desk, title_id)
    before = desk.holds_of("HKPL0001")
    if expected is None:
        hold = desk.reserve("HKPL0001", title_id, pickup)
        assert hold.status is HoldStatus.WAITING
        assert desk.holds_of("HKPL0001") == [*before, hold]
        return
    with pytest.raises(Refused) as refused:
        desk.reserve("HKPL0001", title_id, pickup)
    assert type(refused.value) is Refused
    assert refusal(refused) == expected
    assert desk.holds_of("HKPL0001") == before


def test_overdue_items_do_not_block_reservations(desk: Desk) -> None:
    desk.patron("21012345A")
    desk.copy("P0001", "Computer Networks", institution="polyu")
    wanted = desk.copy("P0002", "Operating Systems", institution="polyu")
    desk.lend("21012345A", "P0001")
    desk.days(40)
    hold = place_reservation(
        desk.ports, desk.patron("21012345A"), wanted.title_id, "PAO", channel="app"
    )
    assert (hold.status, hold.ready_until) == (HoldStatus.READY, desk.today("polyu") + 5 * DAY)


def test_a_returned_copy_goes_to_the_first_waiting_reservation(desk: Desk) -> None:
    title_id = desk.item("B0001").title_id
    desk.lend("HKPL0001", "B0001")
    second = desk.reserve("HKPL0002", title_id)
    clock_of(desk.app).advance(60)
    third = desk.reserve("HKPL0003", title_id, "CEN")
    positions = [
        [v.position for v in record(desk.ports, desk.patron(p)).holds]
        for p in ("HKPL0002", "HKPL0003")
    ]
    assert positions == [[1], [2]]
    desk.days(5)
    back = desk.give_back("B0001")
    assert (back.hold_for, back.fine, back.item.status) == (
        desk.patron("HKPL0002"),
        0,
        ItemStatus.HELD,
    )
    ready = desk.hold(second.id)
    assert (ready.status, ready.item_id, ready.ready_until) == (
        HoldStatus.READY,
        back.item.id,
        TODAY + 12 * DAY,
    )
    assert desk.hold(third.id).status is HoldStatus.WAITING
    assert [v.position for v in record(desk.ports, desk.patron("HKPL0003")).holds] == [1]


def test_a_returned_copy_with_nobody_waiting_goes_back_on_the_shelf(desk: Desk) -> None:
    desk.lend("HKPL0001", "B0001")
    back = desk.give_back("B0001")
    assert (back.hold_for, back.item.status, back.patron_id) == (
        None,
        ItemStatus.AVAILABLE,
        desk.patron("HKPL0001"),
    )
    assert desk.open_loans("HKPL0001") == []
    with pytest.raises(Conflict) as refused:
        desk.give_back("B0001")
    assert refusal(refused) == ("checkin.not_on_loan", {})


def test_cancelling_a_ready_hold_passes_the_copy_on(desk: Desk) -> None:
    title_id = desk.item("B0001").title_id
    first = desk.reserve("HKPL0001", title_id)
    second = desk.reserve("HKPL0002", title_id)
    assert desk.statuses(first, second) == [HoldStatus.READY, HoldStatus.WAITING]
    desk.days(2)
    cancel_reservation(desk.ports, desk.patron("HKPL0001"), first.id, channel="web")
    passed = desk.hold(second.id)
    assert (passed.status, passed.item_id, passed.ready_until) == (
        HoldStatus.READY,
        desk.item("B0001").id,
        TODAY + 9 * DAY,
    )
    assert desk.hold(first.id).status is HoldStatus.CANCELLED
    assert desk.item("B0001").status is ItemStatus.HELD
    cancel_reservation(desk.ports, desk.patron("HKPL0002"), second.id, channel="web")
    assert desk.item("B0001").status is ItemStatus.AVAILABLE
    with pytest.raises(Conflict) as refused:
        cancel_reservation(desk.ports, desk.patron("HKPL0002"), second.id, channel="web")
    assert refusal(refused) == ("hold.not_active", {})


def test_cancelling_a_waiting_hold_leaves_the_copies_alone(desk: Desk) -> None:
    title_id = desk.item("B0001").title_id
    desk.lend("HKPL0001", "B0001")
    hold = desk.reserve("HKPL0002", title_id)
    cancel_reservation(desk.ports, desk.patron("HKPL0002"), hold.id, channel="app")
    assert desk.hold(hold.id).status is HoldStatus.CANCELLED
    assert desk.item("B0001").status is ItemStatus.ON_LOAN
    assert desk.renew("HKPL0001", desk.open_loans("HKPL0001")[0].id) == DUE + 21 * DAY


def test_an_uncollected_hold_expires_lazily_and_the_copy_moves_on(desk: Desk) -> None:
    title_id = desk.item("B0001").title_id
    first = desk.reserve("HKPL0001", title_id)
    second = desk.reserve("HKPL0002", title_id)
    desk.days(7)  # the last pickup day
    record(desk.ports, desk.patron("HKPL0003"))
    assert desk.statuses(first, second) == [HoldStatus.READY, HoldStatus.WAITING]
    desk.days(1)
    assert desk.hold(first.id).status is HoldStatus.READY  # nothing happens by itself
    record(desk.ports, desk.patron("HKPL0003"))  # anybody's look at their record
    assert desk.statuses(first, second) == [HoldStatus.EXPIRED, HoldStatus.READY]
    moved = desk.hold(second.id)
    assert (moved.item_id, moved.ready_until) == (desk.item("B0001").id, TODAY + 15 * DAY)
    assert desk.holds_of("HKPL0001") == []
    desk.days(8)
    mine = record(desk.ports, desk.patron("HKPL0002"))
    assert mine.holds == []
    assert desk.hold(second.id).status is HoldStatus.EXPIRED
    assert desk.item("B0001").status is ItemStatus.AVAILABLE


@pytest.mark.parametrize("action", ["checkout", "reserve"])
def test_a_lapsed_hold_is_noticed_by_a_checkout_or_a_reservation(desk: Desk, action: str) -> None:
    title_id = desk.item("B0001").title_id
    first = desk.reserve("HKPL0001", title_id)
    desk.days(8)
    if action == "checkout":
        assert desk.lend("HKPL0002", "B0001").due_on == desk.today() + 21 * DAY
        assert desk.item("B0001").status is ItemStatus.ON_LOAN
    else:
        hold = desk.reserve("HKPL0002", title_id)
        assert (hold.status, hold.item_id) == (HoldStatus.READY, desk.item("B0001").id)
    assert desk.hold(first.id).status is HoldStatus.EXPIRED


def test_lapsed_holds_do_not_count_towards_the_most_reservations(desk: Desk) -> None:
    for number in range(2, 10):
        other = desk.copy(f"C000{number}", f"Volume {number}")
        desk.reserve("HKPL0001", other.title_id)  # each set aside at once
    desk.days(8)  # none collected
    desk.lend("HKPL0002", "B0001")
    hold = desk.reserve("HKPL0001", desk.item("B0001").title_id)
    assert hold.status is HoldStatus.WAITING


def test_a_hold_of_another_patron_is_not_found(desk: Desk) -> None:
    hold = desk.reserve("HKPL0002", desk.item("B0001").title_id)
    for hold_id in (hold.id, hold.id + 1000):
        with pytest.raises(NotFound) as refused:
            cancel_reservation(desk.ports, desk.patron("HKPL0001"), hold_id, channel="web")
        assert refusal(refused) == ("hold.not_found", {})
    assert desk.hold(hold.id).status is HoldStatus.READY


def test_a_title_of_another_institution_is_not_found(desk: Desk) -> None:
    polyu = desk.copy("P0001", "Computer Networks", institution="polyu")
    for title_id in (polyu.title_id, polyu.title_id + 1000):
        with pytest.raises(NotFound) as refused:
            desk.reserve("HKPL0001", title_id)
        assert refusal(refused) == ("title.not_found", {})
    assert desk.holds_of("HKPL0001") == []
    assert desk.item("P0001", "polyu").status is ItemStatus.AVAILABLE


def test_search_finds_titles_with_their_copies_on_the_shelf(desk: Desk) -> None:
    desk.copy("B0002")
    desk.copy("B0003", "Journey to the West", author="Wu Cheng'en")
    desk.copy("P0001", "Dream of the Red Chamber", institution="polyu")
    desk.lend("HKPL0001", "B0002")
    found = search(desk.ports, "hkpl", "  red   CHAMBER ")
    assert [(t.title, copies, shelf) for t, copies, shelf in found] == [
        ("Dream of the Red Chamber", 2, 1)
    ]
    assert [t.author for t, _, _ in search(desk.ports, "hkpl", "cheng'en")] == ["Wu Cheng'en"]
    assert search(desk.ports, "hkpl", "100%") == []
    assert search(desk.ports, "hkpl", "   ") == []


# --- fines on the fine calendar, payments ------------------------------------------------------


def test_seed_001_fines_resume_from_5_march(desk: Desk) -> None:
    clock = clock_of(desk.app)
    clock.set(datetime(2021, 1, 20, 2, 0, tzinfo=UTC))
    loan = desk.lend("HKPL0001", "B0001")
    assert loan.due_on == date(2021, 2, 10)
    closed = close_calendar(desk.ports, "hkpl", date(2021, 1, 28), None, staff=STAFF)
    assert closed.closures == (Closure(date(2021, 1, 28)),)
    clock.set(datetime(2021, 3, 1, 2, 0, tzinfo=UTC))
    mine = record(desk.ports, desk.patron("HKPL0001"))
    assert [(v.overdue, v.fine_so_far) for v in mine.loans] == [(True, 0)]
    resumed = resume_calendar(desk.ports, "hkpl", date(2021, 3, 5), staff=STAFF)
    assert resumed.closures == (Closure(date(2021, 1, 28), date(2021, 3, 4)),)
    assert fine_calendar(desk.ports, "hkpl") == resumed
    assert fine_calendar(desk.ports, "polyu").closures == ()
    clock.set(datetime(2021, 3, 10, 2, 0, tzinfo=UTC))
    assert record(desk.ports, desk.patron("HKPL0001")).accruing == 6 * 150
    back = desk.give_back("B0001")
    assert back.fine == 6 * 150  # 5 to 10 March
    assert desk.fines("HKPL0001") == [(loan.id, 900)]
    assert record(desk.ports, desk.patron("HKPL0001")).standing.balance == 900


def test_fines_skip_several_closures(desk: Desk) -> None:
    loan = desk.lend("HKPL0001", "B0001")  # due 15 December
    close_calendar(desk.ports, "hkpl", date(2026, 12, 20), date(2026, 12, 27), staff=STAFF)
    close_calendar(desk.ports, "hkpl", date(2027, 1, 1), date(2027, 1, 1), staff=STAFF)
    close_calendar(desk.ports, "hkpl", date(2027, 1, 8), None, staff=STAFF)
    resume_calendar(desk.ports, "hkpl", date(2027, 1, 12), staff=STAFF)
    clock_of(desk.app).set(datetime(2027, 1, 15, 2, 0, tzinfo=UTC))
    # 16 Dec to 15 Jan: 31 days, less 8 (20-27 Dec), 1 (1 Jan) and 4 (8-11 Jan).
    assert desk.give_back("B0001").fine == 18 * 150
    assert desk.fines("HKPL0001") == [(loan.id, 2700)]


def test_seed_001_items_borrowed_from_a_mobile_library_accrue_no_fine(desk: Desk) -> None:
    """Seed 001: fines are charged "except those borrowed from the mobile libraries"."""
    desk.copy("M0001", "Journey to the West", home_library="MOB")
    mobile = desk.lend("HKPL0001", "M0001")
    branch = desk.lend("HKPL0001", "B0001")
    assert (mobile.fine_free, branch.fine_free) == (True, False)
    assert [loan.fine_free for loan in desk.open_loans("HKPL0001")] == [True, False]
    desk.days(30)  # both 9 days overdue
    mine = record(desk.ports, desk.patron("HKPL0001"))
    assert sorted((v.item_barcode, v.overdue, v.fine_so_far) for v in mine.loans) == [
        ("B0001", True, 9 * 150),
        ("M0001", True, 0),
    ]
    assert mine.standing.balance == 9 * 150
    assert desk.give_back("M0001").fine == 0
    assert desk.give_back("B0001").fine == 9 * 150
    assert desk.fines("HKPL0001") == [(branch.id, 9 * 150)]


def test_fines_are_capped_per_item(desk: Desk) -> None:
    desk.copy("B0002", "Journey to the West")
    first = desk.lend("HKPL0001", "B0001")
    desk.days(10)
    second = desk.lend("HKPL0001", "B0002")
    desk.days(200)
    assert desk.give_back("B0001").fine == 13000
    assert desk.give_back("B0002").fine == 13000
    assert desk.fines("HKPL0001") == [(first.id, 13000), (second.id, 13000)]


def test_the_calendar_refuses_a_bad_period_and_a_resumption_with_nothing_open(desk: Desk) -> None:
    with pytest.raises(Refused) as refused:
        close_calendar(desk.ports, "hkpl", date(2021, 3, 5), date(2021, 3, 4), staff=STAFF)
    assert refusal(refused) == ("calendar.bad_period", {})
    with pytest.raises(Refused) as refused:
        resume_calendar(desk.ports, "hkpl", date(2021, 3, 5), staff=STAFF)
    assert refusal(refused) == ("calendar.nothing_to_resume", {})
    close_calendar(desk.ports, "hkpl", date(2021, 1, 28), date(2021, 2, 18), staff=STAFF)
    with pytest.raises(Refused) as refused:
        resume_calendar(desk.ports, "hkpl", date(2021, 3, 5), staff=STAFF)
    assert refusal(refused) == ("calendar.nothing_to_resume", {})
    assert fine_calendar(desk.ports, "hkpl").closures == (
        Closure(date(2021, 1, 28), date(2021, 2, 18)),
    )
    with desk.ports.uow() as uow:
        actions = [e.event.action for e in uow.audit.recent(limit=10)]
    assert actions[0] == "calendar.close"


def test_paying_fines(desk: Desk) -> None:
    with pytest.raises(Conflict) as nothing:
        pay_fines(desk.ports, "HKPL0001", 100, staff=STAFF)
    assert refusal(nothing) == ("fines.nothing_owed", {})
    desk.lend("HKPL0001", "B0001")
    desk.days(21 + 10)
    desk.give_back("B0001")  # HK$15
    for amount in (0, -100):
        with pytest.raises(InvalidInput) as bad:
            pay_fines(desk.ports, "HKPL0001", amount, staff=STAFF)
        assert refusal(bad) == ("fines.bad_amount", {})
    with pytest.raises(InvalidInput) as more:
        pay_fines(desk.ports, "HKPL0001", 1501, staff=STAFF)
    assert refusal(more) == ("fines.more_than_owed", {"owed": 1500})
    assert pay_fines(desk.ports, "HKPL0001", 1000, staff=STAFF) == 500
    assert pay_fines(desk.ports, "hkpl0001", 500, staff=STAFF) == 0
    with pytest.raises(Conflict):
        pay_fines(desk.ports, "HKPL0001", 1, staff=STAFF)
    mine = record(desk.ports, desk.patron("HKPL0001"))
    assert [(p.amount, p.received_by) for p in mine.payments] == [(1000, STAFF), (500, STAFF)]
    assert mine.standing.balance == 0
    paid = [e for e in desk.trail("HKPL0001") if e.action == "fines.pay"]
    assert [(e.actor, e.detail) for e in paid] == [
        (STAFF, {"amount": "1000"}),
        (STAFF, {"amount": "500"}),
    ]
    with pytest.raises(NotFound):
        pay_fines(desk.ports, "NO-SUCH-CARD", 100, staff=STAFF)


def test_a_payment_may_cover_fines_still_accruing(desk: Desk) -> None:
    desk.lend("HKPL0001", "B0001")
    desk.days(21 + 4)
    assert pay_fines(desk.ports, "HKPL0001", 600, staff=STAFF) == 0
    assert desk.give_back("B0001").fine == 600
    assert record(desk.ports, desk.patron("HKPL0001")).standing.balance == 0


# --- PolyU: recommendations and interlibrary loans --------------------------------------------


def test_polyu_requests_are_submitted_listed_and_answered(desk: Desk) -> None:
    me = desk.patron("21012345A")
    other = desk.patron("21054321B")
    wanted = submit_request(
        desk.ports,
        me,
        RequestKind.RECOMMENDATION,
        title="  Designing   Data-Intensive Applications ",
        author="Martin Kleppmann",
        channel="web",
    )
    clock_of(desk.app).advance(60)
    borrowed = submit_request(
        desk.ports,
        me,
        RequestKind.INTERLIBRARY_LOAN,
        title="紅樓夢",
        note="From HKU,\nplease",
        channel="app",
    )
    assert (wanted.title, wanted.status) == (
        "Designing Data-Intensive Applications",
        RequestStatus.SUBMITTED,
    )
    assert (borrowed.kind, borrowed.note, borrowed.author) == (
        RequestKind.INTERLIBRARY_LOAN,
        "From HKU, please",
        "",
    )
    assert [r.id for r in requests_of(desk.ports, me)] == [borrowed.id, wanted.id]
    assert requests_of(desk.ports, other) == []
    clock_of(desk.app).advance(3600)
    answered = set_request_status(desk.ports, borrowed.id, RequestStatus.IN_PROGRESS, staff=STAFF)
    assert answered.status is RequestStatus.IN_PROGRESS
    assert answered.updated_at - answered.created_at == timedelta(seconds=3600)
    assert [r.status for r in requests_of(desk.ports, me)] == [
        RequestStatus.IN_PROGRESS,
        RequestStatus.SUBMITTED,
    ]
    events = [(e.action, e.actor, e.detail) for e in desk.trail("21012345A")][1:]
    assert events == [
        ("request.recommendation", "patron", {"request": str(wanted.id)}),
        ("request.interlibrary_loan", "patron", {"request": str(borrowed.id)}),
        ("request.status", STAFF, {"request": str(borrowed.id), "status": "in_progress"}),
    ]
    with pytest.raises(NotFound) as missing:
        set_request_status(desk.ports, borrowed.id + 1000, RequestStatus.REJECTED, staff=STAFF)
    assert refusal(missing) == ("patron_request.not_found", {})


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        pytest.param({"title": " "}, ("request.title_missing", {}), id="no-title"),
        pytest.param(
            {"title": "<b>x</b>"}, ("request.invalid_characters", {"field": "title"}), id="html"
        ),
        pytest.param(
            {"title": "x", "author": "a\x00"},
            ("request.invalid_characters", {"field": "author"}),
            id="nul",
        ),
        pytest.param(
            {"title": "x", "note": "n" * 1001},
            ("request.too_long", {"field": "note", "max": 1000}),
            id="too-long",
        ),
    ],
)
def test_a_bad_request_is_refused_and_nothing_stored(
    desk: Desk, fields: dict[str, str], expected: Any
) -> None:
    me = desk.patron("21012345A")
    with pytest.raises(Refused) as refused:
        submit_request(desk.ports, me, RequestKind.RECOMMENDATION, channel="web", **fields)
    assert refusal(refused) == expected
    assert requests_of(desk.ports, me) == []


@pytest.mark.parametrize("kind", list(RequestKind))
def test_institutions_without_requests_refuse_them(desk: Desk, kind: RequestKind) -> None:
    me = desk.patron("HKPL0001")
    with pytest.raises(Refused) as refused:
        submit_request(desk.ports, me, kind, title="Dream of the Red Chamber", channel="web")
    assert refusal(refused) == ("request.not_offered", {})
    assert requests_of(desk.ports, me) == []


# --- the audit trail -----------------------------------------------------------------------


def test_the_audit_trail_records_lending_renewals_and_holds(desk: Desk) -> None:
    title_id = desk.item("B0001").title_id
    loan = desk.lend("HKPL0001", "B0001")
    desk.renew("HKPL0001", loan.id)
    hold = desk.reserve("HKPL0002", title_id, "CEN")
    with pytest.raises(Refused):
        desk.renew("HKPL0001", loan.id)
    desk.days(50)
    desk.give_back("B0001")
    cancel_reservation(desk.ports, desk.patron("HKPL0002"), hold.id, channel="app")
    mine = [
        (e.action, e.outcome, e.actor, e.channel, dict(e.detail)) for e in desk.trail("HKPL0001")
    ]
    assert mine[1:] == [
        ("checkout", "ok", STAFF, "staff", {"item": "B0001", "due": "2026-12-15"}),
        ("renewal", "ok", "patron", "web", {"loan": str(loan.id), "due": "2027-01-05"}),
        ("renewal", "renewal.reserved", "patron", "web", {"loan": str(loan.id)}),
        ("checkin", "ok", STAFF, "staff", {"item": "B0001", "fine": str(8 * 150)}),
    ]
    theirs = [(e.action, e.channel, dict(e.detail)) for e in desk.trail("HKPL0002")]
    assert theirs[1:] == [
        ("hold.place", "web", {"title_id": str(title_id), "pickup": "CEN"}),
        ("hold.cancel", "app", {"hold": str(hold.id)}),
    ]
    with desk.ports.uow() as uow:
        added = [e.event for e in uow.audit.recent(limit=1000) if e.event.action == "item.add"]
    assert [(e.institution, e.actor, e.detail["item"]) for e in added] == [("hkpl", STAFF, "B0001")]


def test_the_standing_read_in_one_query_is_the_standing_of_the_records(desk: Desk) -> None:
    """`standing_facts` (one SELECT of counts and sums) gives the standing that the
    loans, fines, payments, holds and closures themselves give, edge cases included:
    a loan due today (not overdue), an overdue fine-free loan, overlapping closures (one
    open-ended), a lapsed ready hold and a waiting one, fines and a payment."""
    patron_id = desk.patron("HKPL0001")
    at = datetime(2026, 11, 1, tzinfo=UTC)
    with desk.ports.uow() as uow:
        title = uow.catalogue.add_title("hkpl", "Standing", "Author", None)
        items = [uow.catalogue.add_item(title.id, "hkpl", f"S{n:04d}", "KLN") for n in range(5)]
        for item, due, free in [
            (items[0], TODAY, False),
            (items[1], TODAY - 10 * DAY, False),
            (items[2], TODAY - 40 * DAY, False),
            (items[3], TODAY - 5 * DAY, True),
        ]:
            uow.loans.add_loan(patron_id, item, TODAY - 60 * DAY, due, fine_free=free)
        uow.fines.add_closure("hkpl", Closure(TODAY - 8 * DAY, TODAY - 6 * DAY), by=STAFF, at=at)
        uow.fines.add_closure("hkpl", Closure(TODAY - 7 * DAY, TODAY - 2 * DAY), by=STAFF, at=at)
        uow.fines.add_closure("hkpl", Closure(TODAY - 35 * DAY), by=STAFF, at=at)
        uow.fines.add_closure("polyu", Closure(TODAY - 50 * DAY), by=STAFF, at=at)
        uow.fines.add_fine(patron_id, None, 700, "overdue", TODAY)
        uow.fines.add_fine(patron_id, None, 300, "lost", TODAY)
        uow.fines.add_payment(patron_id, 250, at, STAFF)
        lapsed = uow.holds.add_hold(patron_id, title.id, "KLN", at)
        uow.holds.update_hold(lapsed.id, HoldStatus.READY, ready_until=TODAY - DAY)
        ready = uow.holds.add_hold(patron_id, title.id, "KLN", at)
        uow.holds.update_hold(ready.id, HoldStatus.READY, ready_until=TODAY)
        uow.holds.add_hold(patron_id, title.id, "KLN", at)
        uow.commit()
    profile = desk.ports.profiles.get("hkpl")
    with desk.ports.read() as uow:
        patron = uow.patrons.get(patron_id)
        assert patron is not None
        facts = uow.loans.standing_facts(patron_id, "hkpl", TODAY)
        listed = standing(
            patron.status,
            uow.loans.open_loans(patron_id),
            recorded_fines=sum(f.amount for f in uow.fines.fines_of(patron_id)),
            payments=sum(p.amount for p in uow.fines.payments_of(patron_id)),
            holds=sum(1 for h in uow.holds.holds_of_patron(patron_id) if not expired(h, TODAY)),
            today=TODAY,
            rules=profile.rules(patron.category),
            calendar=FineCalendar(tuple(uow.fines.closures("hkpl"))),
        )
        read = standing_in(uow, patron, profile, TODAY)
        # The same facts read with the lookup by card (a 23 without PIN, P4).
        [(found, card, with_lookup)] = uow.loans.found_with_standing(lockout_key("HKPL0001"), TODAY)
    assert (found.id, card.value) == (patron_id, "HKPL0001")
    assert with_lookup == facts
    assert (facts.loans, facts.overdue, facts.holds) == (4, 3, 2)
    assert sorted(facts.accruing_due) == [TODAY - 40 * DAY, TODAY - 10 * DAY]
    assert (facts.recorded_fines, facts.payments) == (1000, 250)
    assert sorted(facts.closures, key=lambda c: c.start) == [
        Closure(TODAY - 35 * DAY),
        Closure(TODAY - 8 * DAY, TODAY - 6 * DAY),
        Closure(TODAY - 7 * DAY, TODAY - 2 * DAY),
    ]
    assert read == listed
    assert read.balance > 750  # fines did accrue: the comparison is not of zeros
    if desk.app.engine.dialect.name == "postgresql":
        # A server that writes dates its own way (DateStyle) gives the same facts.
        with desk.ports.read() as uow:
            uow.loans.conn.execute(text("SET LOCAL DateStyle = 'SQL, DMY'"))  # type: ignore[attr-defined]
            assert uow.loans.standing_facts(patron_id, "hkpl", TODAY) == facts
            [(_, _, with_lookup)] = uow.loans.found_with_standing(lockout_key("HKPL0001"), TODAY)
            assert with_lookup == facts
