"""Reservations and the hold shelf (R28): place and cancel a reservation; a copy
that comes back, or is released, goes to the first reservation waiting for its title;
a reservation not collected in time lapses and its copy moves on. The caller of
`fill_next` and `expire_holds` holds the title's lock (see `services.lending`)."""

from __future__ import annotations

from datetime import date

from patronauth.domain.circulation import (
    Hold,
    HoldStatus,
    Item,
    ItemStatus,
    expired,
    next_in_queue,
    place_hold,
    ready_until,
)
from patronauth.domain.errors import Conflict, NotFound
from patronauth.domain.profile import Profile
from patronauth.services.audit import Trail
from patronauth.services.interfaces import Ports, UnitOfWork
from patronauth.services.lending import library_today, patron_in, standing_in


def fill_next(uow: UnitOfWork, item: Item, today: date, profile: Profile) -> Hold | None:
    """A returned (or released) copy goes to the first waiting reservation, else the shelf."""
    waiting = next_in_queue(uow.holds.hold_queue(item.title_id))
    if waiting is None:
        uow.catalogue.set_item_status(item.id, ItemStatus.AVAILABLE)
        return None
    patron = patron_in(uow, waiting.patron_id)
    until = ready_until(today, profile.rules(patron.category))
    uow.holds.update_hold(waiting.id, HoldStatus.READY, item_id=item.id, ready_until=until)
    uow.catalogue.set_item_status(item.id, ItemStatus.HELD)
    return waiting


def expire_holds(uow: UnitOfWork, profile: Profile, today: date, title_id: int) -> None:
    """Uncollected reservations of a title lapse after the pickup period; their copies
    move on. The caller holds the title's lock."""
    for hold in uow.holds.hold_queue(title_id):
        if not expired(hold, today):
            continue
        uow.holds.update_hold(
            hold.id, HoldStatus.EXPIRED, item_id=hold.item_id, ready_until=hold.ready_until
        )
        item = uow.catalogue.item(hold.item_id) if hold.item_id else None
        if item is not None:
            fill_next(uow, item, today, profile)


def expire_all_holds(ports: Ports, profile: Profile, today: date) -> None:
    """Every lapsed reservation of the institution, one title per transaction."""
    with ports.read() as uow:
        titles = sorted({h.title_id for h in uow.holds.ready_holds_past(profile.id, today)})
    for title_id in titles:
        with ports.uow() as uow:
            uow.catalogue.lock_title(title_id)
            expire_holds(uow, profile, today, title_id)
            uow.commit()


def place_reservation(
    ports: Ports, patron_id: int, title_id: int, pickup: str, *, channel: str
) -> Hold:
    """Reserve a title for pickup at a library. A copy on the shelf is set aside at once;
    otherwise the reservation waits its turn."""
    with ports.uow() as uow:
        trail = Trail(uow, ports.clock, "patron", channel)
        patron = patron_in(uow, patron_id)
        profile = ports.profiles.get(patron.institution)
        title = uow.catalogue.title(title_id)
        if title is None or title.institution != patron.institution:
            raise NotFound.of("title.not_found")
        today = library_today(ports, profile)
        uow.catalogue.lock_title(title_id)
        expire_holds(uow, profile, today, title_id)
        place_hold(
            standing_in(uow, patron, profile, today),
            has_active_hold=any(
                h.title_id == title_id for h in uow.holds.holds_of_patron(patron.id)
            ),
            has_on_loan=any(loan.title_id == title_id for loan in uow.loans.open_loans(patron.id)),
            pickup=pickup,
            pickups=profile.libraries,
        )
        hold = uow.holds.add_hold(patron.id, title_id, pickup, ports.clock.now())
        on_shelf = next(
            (i for i in uow.catalogue.items_of_title(title_id) if i.status is ItemStatus.AVAILABLE),
            None,
        )
        if on_shelf is not None:
            fill_next(uow, on_shelf, today, profile)
        trail.record("hold.place", patron, {"title_id": str(title_id), "pickup": pickup})
        placed = uow.holds.hold(hold.id)
        uow.commit()
    assert placed is not None
    return placed


def cancel_reservation(ports: Ports, patron_id: int, hold_id: int, *, channel: str) -> None:
    with ports.uow() as uow:
        trail = Trail(uow, ports.clock, "patron", channel)
        patron = patron_in(uow, patron_id)
        hold = uow.holds.hold(hold_id)
        if hold is None or hold.patron_id != patron.id:
            raise NotFound.of("hold.not_found")
        profile = ports.profiles.get(patron.institution)
        uow.catalogue.lock_title(hold.title_id)
        # Read again under the lock: a returned copy may have filled it meanwhile.
        hold = uow.holds.hold(hold_id) or hold
        if hold.status not in {HoldStatus.WAITING, HoldStatus.READY}:
            raise Conflict.of("hold.not_active")
        uow.holds.update_hold(hold.id, HoldStatus.CANCELLED, item_id=hold.item_id)
        if hold.status is HoldStatus.READY and hold.item_id is not None:
            item = uow.catalogue.item(hold.item_id)
            if item is not None:
                fill_next(uow, item, library_today(ports, profile), profile)
        trail.record("hold.cancel", patron, {"hold": str(hold_id)})
        uow.commit()
