"""Races on PostgreSQL, where transactions really run side by side: every use case takes
the lock of the one title it works on, so the outcome is always one of the serial orders
and no two transactions wait for each other's titles.

Each race is run several times. Where a race needs a precise interleaving (one
transaction reading before another commits), a unit of work whose title lock is slow to
take stands in for an unlucky scheduler."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, text

from patronauth.adapters.clock import ManualClock
from patronauth.adapters.storage.catalogue import SqlCatalogue
from patronauth.adapters.storage.engine import make_engine
from patronauth.adapters.storage.tables import metadata
from patronauth.adapters.storage.uow import SqlUnitOfWork
from patronauth.bootstrap import App
from patronauth.domain.circulation import Hold, HoldStatus, Item, ItemStatus, Loan
from patronauth.domain.errors import Refused
from patronauth.services.catalogue import add_item
from patronauth.services.holds import cancel_reservation, place_reservation
from patronauth.services.loans import checkin, checkout, renew_all, renew_loan
from patronauth.services.lookup import find_patron
from patronauth.services.record import record
from tests import support
from tests.support import STAFF, START, make_app, register

pytestmark = pytest.mark.postgres

REPEAT = 8
GATE_SECONDS = 30  # a gate that never opens (a transaction stuck behind another) fails
STAGGER = [(0, 0), (0.001, 0), (0, 0.001), (0.002, 0), (0, 0.002), (0.004, 0), (0, 0.004), (0, 0)]
DAY = 86400


class TickingClock(ManualClock):
    """Every reading is a microsecond later than the one before, whichever thread reads:
    the times stored give the order in which things happened."""

    def __init__(self, start: datetime) -> None:
        super().__init__(start)
        self._ticks = itertools.count(1)

    def now(self) -> datetime:
        return super().now() + timedelta(microseconds=next(self._ticks))


class SlowLockCatalogue(SqlCatalogue):
    def lock_title(self, title_id: int) -> None:
        time.sleep(0.2)  # the other transaction runs and commits meanwhile
        super().lock_title(title_id)

    def lock_titles(self, title_ids: Sequence[int]) -> None:
        time.sleep(0.2)
        super().lock_titles(title_ids)


class SlowLockUnitOfWork(SqlUnitOfWork):
    def __enter__(self) -> SlowLockUnitOfWork:
        super().__enter__()
        self.catalogue = SlowLockCatalogue(self._conn)
        return self


class GatedCatalogue(SqlCatalogue):
    """Takes a title's lock only once every gate is open: the transactions the test lets
    go first have committed, however the scheduler ran them (a fixed wait, as
    `SlowLockCatalogue`'s, is too short on a busy machine)."""

    def __init__(self, conn: Connection, gates: Sequence[threading.Event]) -> None:
        super().__init__(conn)
        self._gates = gates

    def _wait(self) -> None:
        for gate in self._gates:
            gate.wait(GATE_SECONDS)

    def lock_title(self, title_id: int) -> None:
        self._wait()
        super().lock_title(title_id)

    def lock_titles(self, title_ids: Sequence[int]) -> None:
        self._wait()
        super().lock_titles(title_ids)


class GatedUnitOfWork(SqlUnitOfWork):
    def __init__(self, engine: Engine, gates: Sequence[threading.Event]) -> None:
        super().__init__(engine)
        self._gates = gates

    def __enter__(self) -> GatedUnitOfWork:
        super().__enter__()
        self.catalogue = GatedCatalogue(self._conn, self._gates)
        return self


def _empty(url: str) -> None:
    engine = make_engine(url)
    names = ", ".join(f'"{t.name}"' for t in metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture
def shared(postgres_url: str, tmp_path: Path) -> Iterator[App]:
    _empty(postgres_url)
    built = make_app(support.test_env(postgres_url, tmp_path / "var"), TickingClock(START))
    yield built
    built.close()


def slow(app: App) -> App:
    """The same deployment, whose title locks are slow to take."""
    engine: Engine = app.engine
    return replace(app, ports=replace(app.ports, uow=lambda: SlowLockUnitOfWork(engine)))


def gated(app: App, *gates: threading.Event) -> App:
    """The same deployment, whose title locks wait until every gate is open."""
    engine: Engine = app.engine
    return replace(app, ports=replace(app.ports, uow=lambda: GatedUnitOfWork(engine, gates)))


def opening(gate: threading.Event, action: Callable[[], Any]) -> Callable[[], Any]:
    """`action`, opening `gate` once it is done (committed or refused)."""

    def run() -> Any:
        try:
            return action()
        finally:
            gate.set()

    return run


def together(*actions: Callable[[], Any]) -> list[Any]:
    """Run the actions at the same moment in threads; each one's value or refusal."""
    start = threading.Barrier(len(actions))
    results: list[Any] = [None] * len(actions)

    def run(index: int) -> None:
        start.wait()
        try:
            results[index] = actions[index]()
        except Refused as refused:
            results[index] = refused
        except Exception as error:  # a deadlock or any other failure fails the test
            results[index] = error

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(actions))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    for result in results:
        if isinstance(result, Exception) and not isinstance(result, Refused):
            raise result
    return results


def after(seconds: float, action: Callable[[], Any]) -> Callable[[], Any]:
    def delayed() -> Any:
        time.sleep(seconds)
        return action()

    return delayed


def patron(app: App, barcode: str) -> int:
    with app.ports.uow() as uow:
        found = find_patron(uow, app.ports.profiles, barcode)
    if found is None:
        register(app, "hkpl", barcode, phone="9123 4567")
        return patron(app, barcode)
    return found.patron.id


def copy(app: App, barcode: str, title: str) -> Item:
    return add_item(app.ports, "hkpl", barcode=barcode, title=title, staff=STAFF)


def holds(app: App, title_id: int) -> list[Hold]:
    with app.ports.uow() as uow:
        found: list[Hold] = uow.holds.hold_queue(title_id)
    return found


def item(app: App, item_id: int) -> Item:
    with app.ports.uow() as uow:
        found = uow.catalogue.item(item_id)
    assert found is not None
    return found


def hold(app: App, hold_id: int) -> Hold:
    with app.ports.uow() as uow:
        found = uow.holds.hold(hold_id)
    assert found is not None
    return found


def reserve(app: App, patron_id: int, title_id: int) -> Callable[[], Hold]:
    return lambda: place_reservation(app.ports, patron_id, title_id, "CEN", channel="web")


@pytest.mark.parametrize("round_", range(REPEAT))
def test_two_patrons_reserving_the_last_copy(shared: App, round_: int) -> None:
    first, second = patron(shared, f"HKPL1{round_}01"), patron(shared, f"HKPL1{round_}02")
    last = copy(shared, f"R{round_}", f"Race {round_}")
    placed = together(reserve(shared, first, last.title_id), reserve(shared, second, last.title_id))
    assert all(isinstance(h, Hold) for h in placed)
    stored = holds(shared, last.title_id)
    assert sorted((h.status, h.item_id) for h in stored) == [
        (HoldStatus.READY, last.id),
        (HoldStatus.WAITING, None),
    ]
    assert {h.patron_id for h in stored} == {first, second}
    assert item(shared, last.id).status is ItemStatus.HELD


@pytest.mark.parametrize("round_", range(REPEAT))
def test_a_renewal_racing_a_reservation_is_never_granted_after_the_reservation(
    shared: App, round_: int
) -> None:
    borrower, reader = patron(shared, f"HKPL2{round_}01"), patron(shared, f"HKPL2{round_}02")
    only = copy(shared, f"S{round_}", f"Renewal race {round_}")
    loan: Loan = checkout(
        shared.ports, f"HKPL2{round_}01", only.barcode, actor=STAFF, channel="staff"
    ).loan
    # One side or the other is held back a little, differently each round, so that both
    # orders occur (and the moments when both are inside their transactions).
    renewal_delay, reservation_delay = STAGGER[round_ % len(STAGGER)]
    renewed, placed = together(
        after(renewal_delay, lambda: renew_loan(shared.ports, borrower, loan.id, channel="web")),
        after(reservation_delay, reserve(shared, reader, only.title_id)),
    )
    assert isinstance(placed, Hold)
    assert hold(shared, placed.id).status is HoldStatus.WAITING
    with shared.ports.uow() as uow:
        stored = uow.loans.loan(loan.id)
        (renewal,) = [
            e.event for e in uow.audit.recent(patron_id=borrower) if e.event.action == "renewal"
        ]
    assert stored is not None
    if isinstance(renewed, date):
        # Renewed first: the reservation came after the renewal was decided and stored.
        assert (stored.renewals, stored.due_on, renewal.outcome) == (1, renewed, "ok")
        assert renewal.at < placed.placed_at
    else:
        assert isinstance(renewed, Refused)
        assert renewed.code == "renewal.reserved"
        assert (stored.renewals, stored.due_on, renewal.outcome) == (
            0,
            loan.due_on,
            "renewal.reserved",
        )
        assert placed.placed_at < renewal.at


@pytest.mark.parametrize("round_", range(3))
def test_reservations_of_two_titles_with_lapsed_holds_do_not_deadlock(
    shared: App, round_: int
) -> None:
    lapsing = patron(shared, f"HKPL3{round_}00")
    readers = [patron(shared, f"HKPL3{round_}0{n}") for n in (1, 2)]
    titles = [copy(shared, f"T{round_}{n}", f"Deadlock {round_} {n}") for n in (1, 2)]
    for title in titles:
        assert reserve(shared, lapsing, title.title_id)().status is HoldStatus.READY
    clock = shared.ports.clock
    assert isinstance(clock, ManualClock)
    clock.advance(8 * DAY)  # both set aside and never collected
    # Each reservation notices the lapsed holds of both titles; slow locks make sure that
    # each has locked its own title before it turns to the other.
    late = slow(shared)
    placed = together(*[reserve(late, r, t.title_id) for r, t in zip(readers, titles, strict=True)])
    assert [(h.status, h.item_id) for h in placed] == [(HoldStatus.READY, t.id) for t in titles]
    for title in titles:
        assert item(shared, title.id).status is ItemStatus.HELD


@pytest.mark.parametrize("round_", range(3))
def test_a_lapsed_hold_noticed_twice_at_once_passes_its_copy_on_once(
    shared: App, round_: int
) -> None:
    names = [f"HKPL4{round_}0{n}" for n in range(5)]
    lapsing, first, second, viewer, other = [patron(shared, name) for name in names]
    only = copy(shared, f"U{round_}", f"Expiry race {round_}")
    gone = place_reservation(shared.ports, lapsing, only.title_id, "CEN", channel="web")
    waiting = [reserve(shared, p, only.title_id)() for p in (first, second)]
    assert hold(shared, gone.id).status is HoldStatus.READY
    clock = shared.ports.clock
    assert isinstance(clock, ManualClock)
    clock.advance(8 * DAY)
    together(
        lambda: record(slow(shared).ports, viewer),
        after(0.05, lambda: record(shared.ports, other)),
    )
    assert hold(shared, gone.id).status is HoldStatus.EXPIRED
    assert [hold(shared, h.id).status for h in waiting] == [HoldStatus.READY, HoldStatus.WAITING]
    assert item(shared, only.id).status is ItemStatus.HELD


@pytest.mark.parametrize("round_", range(3))
def test_a_reservation_cancelled_while_its_copy_comes_back(shared: App, round_: int) -> None:
    borrower, reader = patron(shared, f"HKPL5{round_}01"), patron(shared, f"HKPL5{round_}02")
    only = copy(shared, f"V{round_}", f"Cancel race {round_}")
    checkout(shared.ports, f"HKPL5{round_}01", only.barcode, actor=STAFF, channel="staff")
    waiting = reserve(shared, reader, only.title_id)()
    assert borrower != reader
    together(
        lambda: cancel_reservation(slow(shared).ports, reader, waiting.id, channel="web"),
        after(
            0.05,
            lambda: checkin(shared.ports, only.barcode, "hkpl", actor=STAFF, channel="staff"),
        ),
    )
    assert hold(shared, waiting.id).status is HoldStatus.CANCELLED
    assert item(shared, only.id).status is ItemStatus.AVAILABLE  # nobody else waits


@pytest.mark.parametrize("round_", range(4))
def test_renew_all_racing_a_reservation_and_another_renew_all(shared: App, round_: int) -> None:
    """Two patrons renew all their loans, of the same two titles lent in opposite orders,
    while a reader reserves one of the titles: nobody waits for ever (the titles are
    locked in ascending order), and a renewal of the reserved title is granted only if
    it was decided before the reservation, refused for it otherwise."""
    one, two, reader = [patron(shared, f"HKPL5{round_}0{n}") for n in (1, 2, 3)]
    a = [copy(shared, f"V{round_}A{n}", f"All race {round_} A") for n in (1, 2)]
    b = [copy(shared, f"V{round_}B{n}", f"All race {round_} B") for n in (1, 2)]
    for card, items in ((f"HKPL5{round_}01", (a[0], b[0])), (f"HKPL5{round_}02", (b[1], a[1]))):
        for lent in items:
            checkout(shared.ports, card, lent.barcode, actor=STAFF, channel="staff")
    # Even rounds: the renewals lock their titles only once the reservation is placed;
    # odd rounds: the reservation locks its title only once both renewals are done.
    reserved, renewed = threading.Event(), (threading.Event(), threading.Event())
    if round_ % 2 == 0:
        renewing, reserving = gated(shared, reserved), shared
    else:
        renewing, reserving = shared, gated(shared, *renewed)
    first, second, placed = together(
        opening(renewed[0], lambda: renew_all(renewing.ports, one, channel="web")),
        opening(renewed[1], lambda: renew_all(renewing.ports, two, channel="web")),
        after(0.05, opening(reserved, reserve(reserving, reader, a[0].title_id))),
    )
    assert isinstance(placed, Hold)
    assert hold(shared, placed.id).status is HoldStatus.WAITING
    for who, results in ((one, first), (two, second)):
        with shared.ports.uow() as uow:
            loans = {loan.id: loan for loan in uow.loans.open_loans(who)}
            audited = {
                e.event.detail["loan"]: e.event
                for e in uow.audit.recent(patron_id=who)
                if e.event.action == "renewal"
            }
        assert len(results) == 2
        for result in results:
            loan, event = loans[result.loan_id], audited[str(result.loan_id)]
            if loan.title_id != a[0].title_id:
                assert (result.ok, loan.renewals, event.outcome) == (True, 1, "ok")
            elif result.ok:
                assert (loan.renewals, event.outcome) == (1, "ok")
                assert event.at < placed.placed_at
            else:
                assert result.refusal is not None
                assert result.refusal.code == "renewal.reserved"
                assert (loan.renewals, event.outcome) == (0, "renewal.reserved")
                assert placed.placed_at < event.at
    outcomes = {r.ok for r in (*first, *second) if r.loan_id in loans_of_title(shared, a[0])}
    assert outcomes == ({False} if round_ % 2 == 0 else {True})


def loans_of_title(app: App, title: Item) -> set[int]:
    with app.ports.uow() as uow:
        return {
            loan.id
            for copy_ in uow.catalogue.items_of_title(title.title_id)
            if (loan := uow.loans.open_loan_of_item(copy_.id)) is not None
        }
