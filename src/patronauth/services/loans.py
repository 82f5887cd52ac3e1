"""Lending (R28): checkout and checkin at the counter or a self-service machine, and
renewals, one loan or all of a patron's at once."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from patronauth.domain.circulation import (
    HoldStatus,
    Item,
    ItemStatus,
    Loan,
    Title,
    check_out,
    loan_fine,
    renew,
)
from patronauth.domain.errors import Conflict, NotFound, Refused
from patronauth.domain.identifiers import base_form
from patronauth.domain.patrons import Patron
from patronauth.domain.profile import Profile
from patronauth.services.audit import Trail
from patronauth.services.holds import expire_holds, fill_next
from patronauth.services.interfaces import AuditEvent, Ports, UnitOfWork
from patronauth.services.lending import calendar_in, library_today, patron_in, standing_in
from patronauth.services.lookup import require_patron


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
        trail = Trail(uow, ports.clock, actor, channel)
        found = require_patron(uow, ports.profiles, identifier, institution=institution)
        patron, profile = found.patron, found.profile
        today = library_today(ports, profile)
        item = uow.catalogue.item_by_barcode(profile.id, base_form(item_barcode))
        if item is None:
            raise NotFound.of("item.not_found")
        uow.catalogue.lock_title(item.title_id)
        expire_holds(uow, profile, today, item.title_id)
        item = uow.catalogue.item(item.id) or item
        mine = [h for h in uow.holds.hold_queue(item.title_id) if h.patron_id == patron.id]
        due = check_out(
            standing_in(uow, patron, profile, today),
            item_status=item.status,
            held_for_patron=any(
                h.status is HoldStatus.READY and h.item_id == item.id for h in mine
            ),
            today=today,
        )
        loan = uow.loans.add_loan(
            patron.id, item, today, due, fine_free=item.home_library in profile.mobile_libraries
        )
        uow.catalogue.set_item_status(item.id, ItemStatus.ON_LOAN)
        for hold in mine:
            uow.holds.update_hold(hold.id, HoldStatus.COLLECTED, item_id=item.id)
            if hold.item_id is not None and hold.item_id != item.id:
                set_aside = uow.catalogue.item(hold.item_id)
                if set_aside is not None:
                    fill_next(uow, set_aside, today, profile)
        title = uow.catalogue.title(item.title_id)
        assert title is not None
        trail.record("checkout", patron, {"item": item.barcode, "due": due.isoformat()})
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
        trail = Trail(uow, ports.clock, actor, channel)
        item = uow.catalogue.item_by_barcode(institution, base_form(item_barcode))
        if item is None:
            raise NotFound.of("item.not_found")
        uow.catalogue.lock_title(item.title_id)
        loan = uow.loans.open_loan_of_item(item.id)
        if loan is None:
            raise Conflict.of("checkin.not_on_loan")
        patron = patron_in(uow, loan.patron_id)
        fine = loan_fine(loan, today, profile.rules(patron.category), calendar_in(uow, institution))
        uow.loans.return_loan(loan, today)
        if fine:
            uow.fines.add_fine(patron.id, loan.id, fine, "overdue", today)
        held = fill_next(uow, item, today, profile)
        title = uow.catalogue.title(item.title_id)
        assert title is not None
        trail.record("checkin", patron, {"item": item.barcode, "fine": str(fine)})
        item = uow.catalogue.item(item.id) or item
        uow.commit()
    return CheckinResult(item, title, patron.id, fine, held.patron_id if held else None)


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
    loan = uow.loans.loan(loan_id)
    if loan is None or loan.patron_id != patron.id:
        raise NotFound.of("loan.not_found")
    uow.catalogue.lock_title(loan.title_id)
    loan = uow.loans.loan(loan_id) or loan
    others = [
        h
        for h in uow.holds.hold_queue(loan.title_id)
        if h.status is HoldStatus.WAITING and h.patron_id != patron.id
    ]
    due = renew(
        loan, standing_in(uow, patron, profile, today), others_waiting=len(others), today=today
    )
    # An overdue item renewed (where overdue items may be) is charged its fine so far:
    # the new due date would otherwise wipe it out.
    fine = loan_fine(
        loan, today, profile.rules(patron.category), calendar_in(uow, patron.institution)
    )
    if fine:
        uow.fines.add_fine(patron.id, loan.id, fine, "overdue", today)
    uow.loans.renew_loan(loan, due)
    return due


def renew_loan(
    ports: Ports, patron_id: int, loan_id: int, *, channel: str, actor: str = "patron"
) -> date:
    """One renewal, with the reason when refused (R28)."""
    with ports.uow() as uow:
        trail = Trail(uow, ports.clock, actor, channel)
        patron = patron_in(uow, patron_id)
        profile = ports.profiles.get(patron.institution)
        today = library_today(ports, profile)
        try:
            due = _renew_one(ports, uow, patron, profile, loan_id, today)
        except Refused as refusal:
            if isinstance(refusal, NotFound):
                raise
            # Nothing was written before the refusal: the audit record is all that lands.
            trail.record("renewal", patron, {"loan": str(loan_id)}, outcome=refusal.code)
            uow.commit()
            raise
        trail.record("renewal", patron, {"loan": str(loan_id), "due": due.isoformat()})
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
        patron = patron_in(uow, patron_id)
        profile = ports.profiles.get(patron.institution)
        today = library_today(ports, profile)
        titles = [loan.title_id for loan in uow.loans.open_loans(patron.id)]
        uow.catalogue.lock_titles(titles)
        queues = uow.holds.hold_queues(titles)
        rules = profile.rules(patron.category)
        calendar = calendar_in(uow, patron.institution)
        now = standing_in(uow, patron, profile, today)
        results: list[Renewed] = []
        renewed: list[tuple[Loan, date]] = []
        events: list[AuditEvent] = []

        trail = Trail(uow, ports.clock, actor, channel)

        def note(outcome: str, detail: dict[str, str]) -> None:
            events.append(trail.event("renewal", patron, detail, outcome=outcome))

        for loan in uow.loans.open_loans(patron.id):
            others = [
                h
                for h in queues.get(loan.title_id, [])
                if h.status is HoldStatus.WAITING and h.patron_id != patron.id
            ]
            try:
                due = renew(loan, now, others_waiting=len(others), today=today)
            except Refused as refusal:
                note(refusal.code, {"loan": str(loan.id)})
                results.append(Renewed(loan.id, None, refusal))
                continue
            renewed.append((loan, due))
            note("ok", {"loan": str(loan.id), "due": due.isoformat()})
            results.append(Renewed(loan.id, due, None))
            fine = loan_fine(loan, today, rules, calendar)
            if fine:
                uow.fines.add_fine(patron.id, loan.id, fine, "overdue", today)
            if fine or loan.overdue(today):
                # What follows is decided on the standing this renewal left.
                uow.loans.renew_loans(renewed)
                renewed.clear()
                now = standing_in(uow, patron, profile, today)
        uow.loans.renew_loans(renewed)
        uow.audit.record_many(events)
        uow.commit()
    return results
