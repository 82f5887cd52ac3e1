"""What every lending area shares (R8, R28): the library's today, the fine calendar,
and the patron's lending standing.

The areas are `catalogue` (titles and copies), `loans` (checkout, checkin, renewals),
`holds` (reservations and the hold shelf), `fines` (payments and the fine calendar),
`requests` (PolyU's recommendations and interlibrary loans) and `record` (what a
patron sees of all of them).

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

from datetime import date

from patronauth.domain.circulation import FineCalendar, Standing, StandingFacts, standing_from
from patronauth.domain.errors import NotFound
from patronauth.domain.patrons import Patron
from patronauth.domain.profile import Profile
from patronauth.services.interfaces import Ports, UnitOfWork
from patronauth.services.lookup import Found


def library_today(ports: Ports, profile: Profile) -> date:
    """Due dates and fines follow the library's calendar, not UTC's."""
    return profile.day_of(ports.clock.now())


def calendar_in(uow: UnitOfWork, institution: str) -> FineCalendar:
    """The institution's fine calendar as stored (its closures)."""
    return FineCalendar(tuple(uow.fines.closures(institution)))


def patron_in(uow: UnitOfWork, patron_id: int) -> Patron:
    """The patron, or `patron.not_found`."""
    patron = uow.patrons.get(patron_id)
    if patron is None:
        raise NotFound.of("patron.not_found")
    return patron


def standing_in(uow: UnitOfWork, patron: Patron, profile: Profile, today: date) -> Standing:
    """The patron's lending standing, read in the caller's unit of work (one query)."""
    facts = uow.loans.standing_facts(patron.id, patron.institution, today)
    return standing_from(patron.status, facts, today=today, rules=profile.rules(patron.category))


def standing_facts_in(found: Found, facts: StandingFacts, today: date) -> Standing:
    """The standing of a patron found with its facts (`find_patron_standing`)."""
    patron = found.patron
    return standing_from(
        patron.status, facts, today=today, rules=found.profile.rules(patron.category)
    )


def standing_of(ports: Ports, patron: Patron) -> Standing:
    """The patron's lending standing alone (what may be done, fines owed), without the
    lists `record` builds; lapsed reservations count no more, as in `record`."""
    profile = ports.profiles.get(patron.institution)
    today = library_today(ports, profile)
    with ports.read() as uow:
        return standing_in(uow, patron, profile, today)
