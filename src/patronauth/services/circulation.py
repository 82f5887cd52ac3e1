"""The account behind the login (R8, R28): lending, renewals, reservations, fines.

Every operation on a title's copies takes the title's lock first (PostgreSQL's row
lock; SQLite's write lock), so that two patrons reserving the last copy, or a renewal
racing a new reservation, end in one consistent order. What was read before the lock
is read again after it. A transaction locks one title only, so two of them never wait
for each other's titles (a deadlock); renewing all a patron's loans locks their titles
in ascending order, which keeps that true. Patron-facing operations take the signed-in
patron's id and find records only among that patron's own: another patron's loan or
hold is simply not found.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from patronauth.domain.circulation import (
    Fine,
    FineCalendar,
    Hold,
    HoldStatus,
    Item,
    ItemStatus,
    Loan,
    PatronRequest,
    Payment,
    RequestKind,
    RequestStatus,
    Standing,
    Title,
    check_out,
    close,
    expired,
    loan_fine,
    next_in_queue,
    place_hold,
    queue_position,
    ready_until,
    renew,
    request_text,
    resume,
    standing,
)
from patronauth.domain.errors import Conflict, InvalidInput, NotFound, Refused
from patronauth.domain.identifiers import base_form
from patronauth.domain.patrons import Patron
from patronauth.domain.profile import Profile
from patronauth.services.interfaces import AuditEvent, Ports, UnitOfWork
from patronauth.services.lookup import require_patron

MAX_SEARCH = 20


def library_today(ports: Ports, profile: Profile) -> date:
    """Due dates and fines follow the library's calendar, not UTC's."""
    return profile.day_of(ports.clock.now())


def _calendar(uow: UnitOfWork, institution: str) -> FineCalendar:
    return FineCalendar(tuple(uow.circulation.closures(institution)))


def _patron(uow: UnitOfWork, patron_id: int) -> Patron:
    patron = uow.patrons.get(patron_id)
    if patron is None:
        raise NotFound.of("patron.not_found")
    return patron


def _standing(uow: UnitOfWork, patron: Patron, profile: Profile, today: date) -> Standing:
    circ = uow.circulation
    return standing(
        patron.status,
        circ.open_loans(patron.id),
        recorded_fines=sum(f.amount for f in circ.fines_of(patron.id)),
        payments=sum(p.amount for p in circ.payments_of(patron.id)),
        # A hold past its pickup date counts no more, though nobody has noticed it yet.
        holds=sum(1 for h in circ.holds_of_patron(patron.id) if not expired(h, today)),
        today=today,
        rules=profile.rules(patron.category),
        calendar=_calendar(uow, patron.institution),
    )


def _event(
    ports: Ports,
    action: str,
    patron: Patron | None,
    *,
    actor: str,
    channel: str,
    outcome: str = "ok",
    detail: Mapping[str, str] | None = None,
    institution: str | None = None,
) -> AuditEvent:
    return AuditEvent(
        at=ports.clock.now(),
        action=action,
        outcome=outcome,
        actor=actor,
        channel=channel,
        institution=patron.institution if patron else institution,
        patron_id=patron.id if patron else None,
        detail=dict(detail or {}),
    )


def _audit(
    uow: UnitOfWork,
    ports: Ports,
    action: str,
    patron: Patron | None,
    *,
    actor: str,
    channel: str,
    outcome: str = "ok",
    detail: Mapping[str, str] | None = None,
    institution: str | None = None,
) -> None:
    uow.audit.record(
        _event(
            ports, action, patron, actor=actor, channel=channel, outcome=outcome,
            detail=detail, institution=institution,
        )
    )  # fmt: skip


# --- the hold shelf ----------------------------------------------------------------------


def _fill_next(uow: UnitOfWork, item: Item, today: date, profile: Profile) -> Hold | None:
    """A returned (or released) copy goes to the first waiting reservation, else the shelf."""
    waiting = next_in_queue(uow.circulation.hold_queue(item.title_id))
    if waiting is None:
        uow.circulation.set_item_status(item.id, ItemStatus.AVAILABLE)
        return None
    patron = _patron(uow, waiting.patron_id)
    until = ready_until(today, profile.rules(patron.category))
    uow.circulation.update_hold(waiting.id, HoldStatus.READY, item_id=item.id, ready_until=until)
    uow.circulation.set_item_status(item.id, ItemStatus.HELD)
    return waiting


def _expire_holds(uow: UnitOfWork, profile: Profile, today: date, title_id: int) -> None:
    """Uncollected reservations of a title lapse after the pickup period; their copies
    move on. The caller holds the title's lock."""
    for hold in uow.circulation.hold_queue(title_id):
        if not expired(hold, today):
            continue
        uow.circulation.update_hold(
            hold.id, HoldStatus.EXPIRED, item_id=hold.item_id, ready_until=hold.ready_until
        )
        item = uow.circulation.item(hold.item_id) if hold.item_id else None
        if item is not None:
            _fill_next(uow, item, today, profile)


def _expire_all_holds(ports: Ports, profile: Profile, today: date) -> None:
    """Every lapsed reservation of the institution, one title per transaction."""
    with ports.uow() as uow:
        titles = sorted({h.title_id for h in uow.circulation.ready_holds_past(profile.id, today)})
    for title_id in titles:
        with ports.uow() as uow:
            uow.circulation.lock_title(title_id)
            _expire_holds(uow, profile, today, title_id)
            uow.commit()


# --- staff: catalogue, lending at the counter -------------------------------------------


def add_item(
    ports: Ports,
    institution: str,
    *,
    barcode: str,
    title: str,
    author: str = "",
    isbn: str | None = None,
    home_library: str | None = None,
    staff: str,
) -> Item:
    profile = ports.profiles.get(institution)
    today = library_today(ports, profile)
    title_text = request_text("title", title, required=True)
    author_text = request_text("author", author)
    code = base_form(barcode)
    library = home_library or next(iter(profile.libraries), "")
    if library not in profile.libraries:
        raise InvalidInput.of("item.unknown_library", known=", ".join(profile.libraries))
    isbn_text = base_form(isbn) if isbn else None
    with ports.uow() as uow:
        found = uow.circulation.find_title(institution, title_text, author_text, isbn_text)
        record = found or uow.circulation.add_title(institution, title_text, author_text, isbn_text)
        added = uow.circulation.add_item(record.id, institution, code, library)
        # A new copy of a title with reservations waiting goes to the first of them.
        uow.circulation.lock_title(record.id)
        _fill_next(uow, added, today, profile)
        item = uow.circulation.item(added.id) or added
        _audit(
            uow,
            ports,
            "item.add",
            None,
            actor=staff,
            channel="staff",
            institution=institution,
            detail={"item": code, "title_id": str(record.id)},
        )
        uow.commit()
    return item


@dataclass(frozen=True)
class CheckoutResult:
    loan: Loan
    title: Title
    collected_hold: bool


def checkout(
    ports: Ports,
    identifier: str,
    item_barcode: str,
    *,
    actor: str,
    channel: str,
    institution: str | None = None,
) -> CheckoutResult:
    """Lend a copy (at the counter or a self-checkout machine). A copy waiting on the hold
    shelf goes only to the patron whose reservation it fills. The loan fills the patron's
    reservation of the title, whichever copy they take: a different copy set aside for
    them moves on to the next reservation."""
    with ports.uow() as uow:
        found = require_patron(uow, ports.profiles, identifier, institution=institution)
        patron, profile = found.patron, found.profile
        today = library_today(ports, profile)
        item = uow.circulation.item_by_barcode(profile.id, base_form(item_barcode))
        if item is None:
            raise NotFound.of("item.not_found")
        uow.circulation.lock_title(item.title_id)
        _expire_holds(uow, profile, today, item.title_id)
        item = uow.circulation.item(item.id) or item
        mine = [h for h in uow.circulation.hold_queue(item.title_id) if h.patron_id == patron.id]
        due = check_out(
            _standing(uow, patron, profile, today),
            item_status=item.status,
            held_for_patron=any(
                h.status is HoldStatus.READY and h.item_id == item.id for h in mine
            ),
            today=today,
        )
        loan = uow.circulation.add_loan(
            patron.id, item, today, due, fine_free=item.home_library in profile.mobile_libraries
        )
        uow.circulation.set_item_status(item.id, ItemStatus.ON_LOAN)
        for hold in mine:
            uow.circulation.update_hold(hold.id, HoldStatus.COLLECTED, item_id=item.id)
            if hold.item_id is not None and hold.item_id != item.id:
                set_aside = uow.circulation.item(hold.item_id)
                if set_aside is not None:
                    _fill_next(uow, set_aside, today, profile)
        title = uow.circulation.title(item.title_id)
        assert title is not None
        _audit(
            uow,
            ports,
            "checkout",
            patron,
            actor=actor,
            channel=channel,
            detail={"item": item.barcode, "due": due.isoformat()},
        )
        uow.commit()
    return CheckoutResult(loan, title, bool(mine))


@dataclass(frozen=True)
class CheckinResult:
    item: Item
    title: Title
    patron_id: int | None
    fine: int
    hold_for: int | None  # the patron whose reservation the copy now waits for


def checkin(
    ports: Ports, item_barcode: str, institution: str, *, actor: str, channel: str
) -> CheckinResult:
    """Take a copy back: an overdue fine is charged on the fine calendar, and the copy
    goes to the next reservation or back on the shelf."""
    profile = ports.profiles.get(institution)
    today = library_today(ports, profile)
    with ports.uow() as uow:
        item = uow.circulation.item_by_barcode(institution, base_form(item_barcode))
        if item is None:
            raise NotFound.of("item.not_found")
        uow.circulation.lock_title(item.title_id)
        loan = uow.circulation.open_loan_of_item(item.id)
        if loan is None:
            raise Conflict.of("checkin.not_on_loan")
        patron = _patron(uow, loan.patron_id)
        fine = loan_fine(loan, today, profile.rules(patron.category), _calendar(uow, institution))
        uow.circulation.return_loan(loan, today)
        if fine:
            uow.circulation.add_fine(patron.id, loan.id, fine, "overdue", today)
        held = _fill_next(uow, item, today, profile)
        title = uow.circulation.title(item.title_id)
        assert title is not None
        _audit(
            uow,
            ports,
            "checkin",
            patron,
            actor=actor,
            channel=channel,
            detail={"item": item.barcode, "fine": str(fine)},
        )
        item = uow.circulation.item(item.id) or item
        uow.commit()
    return CheckinResult(item, title, patron.id, fine, held.patron_id if held else None)


# --- the patron's own record --------------------------------------------------------------


@dataclass(frozen=True)
class LoanView:
    loan: Loan
    title: Title
    item_barcode: str
    overdue: bool
    fine_so_far: int
    renewals_left: int


@dataclass(frozen=True)
class HoldView:
    hold: Hold
    title: Title
    position: int | None  # in the queue, while waiting


@dataclass(frozen=True)
class Record:
    patron: Patron
    profile: Profile
    today: date
    loans: Sequence[LoanView]
    holds: Sequence[HoldView]
    fines: Sequence[Fine]
    payments: Sequence[Payment]
    standing: Standing

    @property
    def accruing(self) -> int:
        return sum(v.fine_so_far for v in self.loans)


def standing_of(ports: Ports, patron: Patron) -> Standing:
    """The patron's lending standing alone (what may be done, fines owed), without the
    lists `record` builds; lapsed reservations count no more, as in `record`."""
    profile = ports.profiles.get(patron.institution)
    today = library_today(ports, profile)
    with ports.uow() as uow:
        return _standing(uow, patron, profile, today)


def record(ports: Ports, patron_id: int) -> Record:
    """Loans with their due dates, reservations with their place in the queue, fines."""
    with ports.uow() as uow:
        patron = _patron(uow, patron_id)
        profile = ports.profiles.get(patron.institution)
        today = library_today(ports, profile)
    _expire_all_holds(ports, profile, today)
    with ports.uow() as uow:
        circ = uow.circulation
        rules = profile.rules(patron.category)
        calendar = _calendar(uow, patron.institution)
        titles: dict[int, Title] = {}

        def title_of(title_id: int) -> Title:
            if title_id not in titles:
                found = circ.title(title_id)
                assert found is not None
                titles[title_id] = found
            return titles[title_id]

        loans = []
        for loan, title, barcode in circ.open_loans_listed(patron.id):
            titles[title.id] = title
            loans.append(
                LoanView(
                    loan=loan,
                    title=title,
                    item_barcode=barcode,
                    overdue=loan.overdue(today),
                    fine_so_far=loan_fine(loan, today, rules, calendar),
                    renewals_left=max(0, rules.max_renewals - loan.renewals),
                )
            )
        holds = [
            HoldView(h, title_of(h.title_id), queue_position(h, circ.hold_queue(h.title_id)))
            for h in circ.holds_of_patron(patron.id)
        ]
        return Record(
            patron=patron,
            profile=profile,
            today=today,
            loans=loans,
            holds=holds,
            fines=circ.fines_of(patron.id),
            payments=circ.payments_of(patron.id),
            standing=_standing(uow, patron, profile, today),
        )


@dataclass(frozen=True)
class Renewed:
    loan_id: int
    due_on: date | None  # the new due date, when renewed
    refusal: Refused | None  # why not, otherwise

    @property
    def ok(self) -> bool:
        return self.refusal is None


def _renew_one(
    ports: Ports, uow: UnitOfWork, patron: Patron, profile: Profile, loan_id: int, today: date
) -> date:
    loan = uow.circulation.loan(loan_id)
    if loan is None or loan.patron_id != patron.id:
        raise NotFound.of("loan.not_found")
    uow.circulation.lock_title(loan.title_id)
    loan = uow.circulation.loan(loan_id) or loan
    others = [
        h
        for h in uow.circulation.hold_queue(loan.title_id)
        if h.status is HoldStatus.WAITING and h.patron_id != patron.id
    ]
    due = renew(
        loan, _standing(uow, patron, profile, today), others_waiting=len(others), today=today
    )
    # An overdue item renewed (where overdue items may be) is charged its fine so far:
    # the new due date would otherwise wipe it out.
    fine = loan_fine(
        loan, today, profile.rules(patron.category), _calendar(uow, patron.institution)
    )
    if fine:
        uow.circulation.add_fine(patron.id, loan.id, fine, "overdue", today)
    uow.circulation.renew_loan(loan, due)
    return due


def renew_loan(
    ports: Ports, patron_id: int, loan_id: int, *, channel: str, actor: str = "patron"
) -> date:
    """One renewal, with the reason when refused (R28)."""
    with ports.uow() as uow:
        patron = _patron(uow, patron_id)
        profile = ports.profiles.get(patron.institution)
        today = library_today(ports, profile)
        try:
            due = _renew_one(ports, uow, patron, profile, loan_id, today)
        except Refused as refusal:
            if isinstance(refusal, NotFound):
                raise
            # Nothing was written before the refusal: the audit record is all that lands.
            _audit(
                uow,
                ports,
                "renewal",
                patron,
                actor=actor,
                channel=channel,
                outcome=refusal.code,
                detail={"loan": str(loan_id)},
            )
            uow.commit()
            raise
        _audit(
            uow,
            ports,
            "renewal",
            patron,
            actor=actor,
            channel=channel,
            detail={"loan": str(loan_id), "due": due.isoformat()},
        )
        uow.commit()
    return due


def renew_all(
    ports: Ports, patron_id: int, *, channel: str, actor: str = "patron"
) -> list[Renewed]:
    """Renew every loan that may be renewed; the others say why not.

    One transaction: the patron's titles are locked in ascending order (every other
    transaction locks a single title, so none waits on this one in a cycle), the loans
    are read again under the locks, and the standing is read once, then again only
    after a renewal that changed it (an overdue loan renewed, its fine charged). Each
    loan is decided as if renewed on its own, one after the other; the new due dates
    and the audit records are written together at the end."""
    with ports.uow() as uow:
        patron = _patron(uow, patron_id)
        profile = ports.profiles.get(patron.institution)
        today = library_today(ports, profile)
        circ = uow.circulation
        titles = [loan.title_id for loan in circ.open_loans(patron.id)]
        circ.lock_titles(titles)
        queues = circ.hold_queues(titles)
        rules = profile.rules(patron.category)
        calendar = _calendar(uow, patron.institution)
        now = _standing(uow, patron, profile, today)
        results: list[Renewed] = []
        renewed: list[tuple[Loan, date]] = []
        events: list[AuditEvent] = []

        def audit(outcome: str, detail: dict[str, str]) -> None:
            events.append(
                _event(ports, "renewal", patron, actor=actor, channel=channel,
                       outcome=outcome, detail=detail)
            )  # fmt: skip

        for loan in circ.open_loans(patron.id):
            others = [
                h
                for h in queues.get(loan.title_id, [])
                if h.status is HoldStatus.WAITING and h.patron_id != patron.id
            ]
            try:
                due = renew(loan, now, others_waiting=len(others), today=today)
            except Refused as refusal:
                audit(refusal.code, {"loan": str(loan.id)})
                results.append(Renewed(loan.id, None, refusal))
                continue
            renewed.append((loan, due))
            audit("ok", {"loan": str(loan.id), "due": due.isoformat()})
            results.append(Renewed(loan.id, due, None))
            fine = loan_fine(loan, today, rules, calendar)
            if fine:
                circ.add_fine(patron.id, loan.id, fine, "overdue", today)
            if fine or loan.overdue(today):
                # What follows is decided on the standing this renewal left.
                circ.renew_loans(renewed)
                renewed.clear()
                now = _standing(uow, patron, profile, today)
        circ.renew_loans(renewed)
        uow.audit.record_many(events)
        uow.commit()
    return results


def search(ports: Ports, institution: str, text: str) -> list[tuple[Title, int, int]]:
    """Titles matching `text`, with their copies and how many are on the shelf."""
    query = " ".join(text.split())
    if not query:
        return []
    request_text("title", query)
    with ports.uow() as uow:
        found = uow.circulation.search_titles(institution, query, limit=MAX_SEARCH)
        results = []
        for title in found:
            copies = uow.circulation.items_of_title(title.id)
            shelf = sum(1 for c in copies if c.status is ItemStatus.AVAILABLE)
            results.append((title, len(copies), shelf))
    return results


def place_reservation(
    ports: Ports, patron_id: int, title_id: int, pickup: str, *, channel: str
) -> Hold:
    """Reserve a title for pickup at a library. A copy on the shelf is set aside at once;
    otherwise the reservation waits its turn."""
    with ports.uow() as uow:
        patron = _patron(uow, patron_id)
        profile = ports.profiles.get(patron.institution)
        title = uow.circulation.title(title_id)
        if title is None or title.institution != patron.institution:
            raise NotFound.of("title.not_found")
        today = library_today(ports, profile)
        uow.circulation.lock_title(title_id)
        _expire_holds(uow, profile, today, title_id)
        circ = uow.circulation
        place_hold(
            _standing(uow, patron, profile, today),
            has_active_hold=any(h.title_id == title_id for h in circ.holds_of_patron(patron.id)),
            has_on_loan=any(loan.title_id == title_id for loan in circ.open_loans(patron.id)),
            pickup=pickup,
            pickups=profile.libraries,
        )
        hold = circ.add_hold(patron.id, title_id, pickup, ports.clock.now())
        on_shelf = next(
            (i for i in circ.items_of_title(title_id) if i.status is ItemStatus.AVAILABLE), None
        )
        if on_shelf is not None:
            _fill_next(uow, on_shelf, today, profile)
        _audit(
            uow,
            ports,
            "hold.place",
            patron,
            actor="patron",
            channel=channel,
            detail={"title_id": str(title_id), "pickup": pickup},
        )
        placed = circ.hold(hold.id)
        uow.commit()
    assert placed is not None
    return placed


def cancel_reservation(ports: Ports, patron_id: int, hold_id: int, *, channel: str) -> None:
    with ports.uow() as uow:
        patron = _patron(uow, patron_id)
        hold = uow.circulation.hold(hold_id)
        if hold is None or hold.patron_id != patron.id:
            raise NotFound.of("hold.not_found")
        profile = ports.profiles.get(patron.institution)
        uow.circulation.lock_title(hold.title_id)
        # Read again under the lock: a returned copy may have filled it meanwhile.
        hold = uow.circulation.hold(hold_id) or hold
        if hold.status not in {HoldStatus.WAITING, HoldStatus.READY}:
            raise Conflict.of("hold.not_active")
        uow.circulation.update_hold(hold.id, HoldStatus.CANCELLED, item_id=hold.item_id)
        if hold.status is HoldStatus.READY and hold.item_id is not None:
            item = uow.circulation.item(hold.item_id)
            if item is not None:
                _fill_next(uow, item, library_today(ports, profile), profile)
        _audit(
            uow,
            ports,
            "hold.cancel",
            patron,
            actor="patron",
            channel=channel,
            detail={"hold": str(hold_id)},
        )
        uow.commit()


# --- fines, payments and the fine calendar -------------------------------------------------


def pay_fines(
    ports: Ports, identifier: str, amount: int, *, staff: str, institution: str | None = None
) -> int:
    """Record a payment at the counter; the balance that remains (cents)."""
    if amount <= 0:
        raise InvalidInput.of("fines.bad_amount")
    with ports.uow() as uow:
        found = require_patron(uow, ports.profiles, identifier, institution=institution)
        today = library_today(ports, found.profile)
        owed = _standing(uow, found.patron, found.profile, today).balance
        if owed <= 0:
            raise Conflict.of("fines.nothing_owed")
        if amount > owed:
            raise InvalidInput.of("fines.more_than_owed", owed=owed)
        uow.circulation.add_payment(found.patron.id, amount, ports.clock.now(), staff)
        _audit(
            uow,
            ports,
            "fines.pay",
            found.patron,
            actor=staff,
            channel="staff",
            detail={"amount": str(amount)},
        )
        uow.commit()
    return owed - amount


def close_calendar(
    ports: Ports, institution: str, start: date, until: date | None, *, staff: str
) -> FineCalendar:
    """Libraries closed: no fine accrues from `start` (to `until`, or until resumed)."""
    ports.profiles.get(institution)
    now = ports.clock.now()
    with ports.uow() as uow:
        calendar = close(_calendar(uow, institution), start, until)
        uow.circulation.add_closure(institution, calendar.closures[-1], by=staff, at=now)
        _audit(
            uow,
            ports,
            "calendar.close",
            None,
            actor=staff,
            channel="staff",
            institution=institution,
            detail={"from": start.isoformat(), "to": until.isoformat() if until else ""},
        )
        uow.commit()
    return calendar


def resume_calendar(ports: Ports, institution: str, on: date, *, staff: str) -> FineCalendar:
    """Fine calculation resumes from `on` (seed 001)."""
    ports.profiles.get(institution)
    with ports.uow() as uow:
        calendar = resume(_calendar(uow, institution), on)
        uow.circulation.end_open_closures(institution, on, on - timedelta(days=1))
        _audit(
            uow,
            ports,
            "calendar.resume",
            None,
            actor=staff,
            channel="staff",
            institution=institution,
            detail={"from": on.isoformat()},
        )
        uow.commit()
    return calendar


def fine_calendar(ports: Ports, institution: str) -> FineCalendar:
    ports.profiles.get(institution)
    with ports.uow() as uow:
        return _calendar(uow, institution)


# --- PolyU: recommendations and interlibrary-loan requests (R8) ----------------------------


def submit_request(
    ports: Ports,
    patron_id: int,
    kind: RequestKind,
    *,
    title: str,
    author: str = "",
    note: str = "",
    channel: str,
) -> PatronRequest:
    with ports.uow() as uow:
        patron = _patron(uow, patron_id)
        profile = ports.profiles.get(patron.institution)
        if kind.value not in profile.requests:
            raise Refused.of("request.not_offered")
        text = {
            "title": request_text("title", title, required=True),
            "author": request_text("author", author),
            "note": request_text("note", note),
        }
        made = uow.circulation.add_request(patron.id, kind, text, ports.clock.now())
        _audit(
            uow,
            ports,
            f"request.{kind.value}",
            patron,
            actor="patron",
            channel=channel,
            detail={"request": str(made.id)},
        )
        uow.commit()
    return made


def requests_of(ports: Ports, patron_id: int) -> list[PatronRequest]:
    with ports.uow() as uow:
        return uow.circulation.requests_of(_patron(uow, patron_id).id)


def set_request_status(
    ports: Ports, request_id: int, status: RequestStatus, *, staff: str
) -> PatronRequest:
    with ports.uow() as uow:
        found = uow.circulation.request(request_id)
        if found is None:
            raise NotFound.of("patron_request.not_found")
        uow.circulation.set_request_status(request_id, status, ports.clock.now())
        patron = _patron(uow, found.patron_id)
        _audit(
            uow,
            ports,
            "request.status",
            patron,
            actor=staff,
            channel="staff",
            detail={"request": str(request_id), "status": status.value},
        )
        updated = uow.circulation.request(request_id)
        uow.commit()
    assert updated is not None
    return updated
