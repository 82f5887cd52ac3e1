"""Fines (R28): payments at the counter, and the fine calendar: while the libraries
are closed no fine accrues (seed 001)."""

from __future__ import annotations

from datetime import date, timedelta

from patronauth.domain.circulation import FineCalendar, close, resume
from patronauth.domain.errors import Conflict, InvalidInput
from patronauth.services.audit import Trail, given_reason
from patronauth.services.interfaces import Ports
from patronauth.services.lending import calendar_in, library_today, standing_in
from patronauth.services.lookup import require_patron


def pay_fines(
    ports: Ports,
    identifier: str,
    amount: int,
    *,
    staff: str,
    institution: str | None = None,
    reason: str | None = None,
) -> int:
    """Record a payment at the counter; the balance that remains (cents)."""
    why = given_reason(reason)
    if amount <= 0:
        raise InvalidInput.of("fines.bad_amount")
    with ports.uow() as uow:
        trail = Trail(uow, ports.clock, staff, "staff", reason=why)
        found = require_patron(uow, ports.profiles, identifier, institution=institution)
        today = library_today(ports, found.profile)
        owed = standing_in(uow, found.patron, found.profile, today).balance
        if owed <= 0:
            raise Conflict.of("fines.nothing_owed")
        if amount > owed:
            raise InvalidInput.of("fines.more_than_owed", owed=owed)
        uow.fines.add_payment(found.patron.id, amount, ports.clock.now(), staff)
        trail.record("fines.pay", found.patron, {"amount": str(amount)})
        uow.commit()
    return owed - amount


def close_calendar(
    ports: Ports, institution: str, start: date, until: date | None, *, staff: str
) -> FineCalendar:
    """Libraries closed: no fine accrues from `start` (to `until`, or until resumed)."""
    ports.profiles.get(institution)
    now = ports.clock.now()
    with ports.uow() as uow:
        trail = Trail(uow, ports.clock, staff, "staff")
        calendar = close(calendar_in(uow, institution), start, until)
        uow.fines.add_closure(institution, calendar.closures[-1], by=staff, at=now)
        trail.record(
            "calendar.close",
            None,
            {"from": start.isoformat(), "to": until.isoformat() if until else ""},
            institution=institution,
        )
        uow.commit()
    return calendar


def resume_calendar(ports: Ports, institution: str, on: date, *, staff: str) -> FineCalendar:
    """Fine calculation resumes from `on` (seed 001)."""
    ports.profiles.get(institution)
    with ports.uow() as uow:
        trail = Trail(uow, ports.clock, staff, "staff")
        calendar = resume(calendar_in(uow, institution), on)
        uow.fines.end_open_closures(institution, on, on - timedelta(days=1))
        trail.record("calendar.resume", None, {"from": on.isoformat()}, institution=institution)
        uow.commit()
    return calendar


def fine_calendar(ports: Ports, institution: str) -> FineCalendar:
    ports.profiles.get(institution)
    with ports.read() as uow:
        return calendar_in(uow, institution)
