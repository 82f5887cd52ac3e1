"""Finding the patron behind what somebody typed or scanned."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import TypeVar

from patronauth.domain.circulation import StandingFacts
from patronauth.domain.errors import NotFound, Refused
from patronauth.domain.identifiers import (
    IdentifierKind,
    IdentifierStatus,
    lockout_key,
    normalise,
)
from patronauth.domain.patrons import Identifier, Patron
from patronauth.domain.profile import Profile
from patronauth.services.interfaces import CardHolder, Profiles, UnitOfWork

_T = TypeVar("_T")


@dataclass(frozen=True)
class Found:
    patron: Patron
    identifier: Identifier
    profile: Profile

    @property
    def current(self) -> bool:
        return self.identifier.status is IdentifierStatus.CURRENT


def find_patron(
    uow: UnitOfWork,
    profiles: Profiles,
    raw: str,
    *,
    institution: str | None = None,
    include_replaced: bool = False,
) -> Found | None:
    """The patron whose identifier this is, normalised by each institution's own rule.

    A replaced card is found only with `include_replaced` (staff look-ups): it no
    longer signs in (R25). Two institutions with the same identifier need
    `institution` to tell them apart.
    """
    key = lockout_key(raw)
    if institution is not None:
        profiles.get(institution)
    match = _one(
        ((patron, identifier, None) for patron, identifier in uow.patrons.find(key)),
        profiles,
        raw,
        institution=institution,
        include_replaced=include_replaced,
    )
    return match[0] if match else None


def find_patron_standing(
    uow: UnitOfWork, profiles: Profiles, raw: str, *, institution: str, today: date
) -> tuple[Found, StandingFacts] | None:
    """`find_patron` (current cards only) with what the patron's standing on `today`
    is computed from, in one read: `today` is the library's date at `institution`."""
    key = lockout_key(raw)
    return patron_standing_in(
        uow.loans.found_with_standing(key, today), profiles, raw, institution=institution
    )


def patron_standing_in(
    rows: Iterable[tuple[Patron, Identifier, StandingFacts]],
    profiles: Profiles,
    raw: str,
    *,
    institution: str,
) -> tuple[Found, StandingFacts] | None:
    """`find_patron_standing` among `rows` read already (`Loans.found_with_standing` of
    the key of `raw`, read with many others)."""
    profiles.get(institution)
    return _one(rows, profiles, raw, institution=institution)


def find_card_holder(
    uow: UnitOfWork, profiles: Profiles, raw: str, *, institution: str | None = None
) -> tuple[Found, CardHolder] | None:
    """`find_patron` (current cards only) with what a sign-in needs before its
    verification (the patron's credentials, the forced changes on record), in one read."""
    key = lockout_key(raw)
    if institution is not None:
        profiles.get(institution)
    holders = uow.patrons.card_holders(key)
    rows = ((h.patron, h.identifier, h) for h in holders)
    return _one(rows, profiles, raw, institution=institution)


def _one(
    rows: Iterable[tuple[Patron, Identifier, _T]],
    profiles: Profiles,
    raw: str,
    *,
    institution: str | None,
    include_replaced: bool = False,
) -> tuple[Found, _T] | None:
    """The one card among `rows` (patron, card, what came with them) that is `raw` by
    its institution's rule; None when none is, `identifier.ambiguous` when several are."""
    matches = []
    for patron, identifier, extra in rows:
        if institution is not None and patron.institution != institution:
            continue
        profile = profiles.get(patron.institution)
        if normalise(raw, profile.identifiers) != identifier.value:
            continue
        if identifier.status is not IdentifierStatus.CURRENT and not include_replaced:
            continue
        matches.append((Found(patron, identifier, profile), extra))
    if len(matches) > 1:
        raise Refused.of("identifier.ambiguous")
    return matches[0] if matches else None


def require_patron(
    uow: UnitOfWork,
    profiles: Profiles,
    raw: str,
    *,
    institution: str | None = None,
    include_replaced: bool = False,
) -> Found:
    found = find_patron(
        uow, profiles, raw, institution=institution, include_replaced=include_replaced
    )
    if found is None:
        raise NotFound.of("patron.not_found")
    return found


_NUMBERS = (IdentifierKind.STUDENT_NUMBER, IdentifierKind.STAFF_NUMBER)


def current_card(uow: UnitOfWork, patron_id: int) -> Identifier | None:
    """The patron's current card (replaced cards no longer sign in); a directory
    category's student or staff number is no card."""
    current = [
        i for i in uow.patrons.identifiers(patron_id) if i.status is IdentifierStatus.CURRENT
    ]
    cards = [i for i in current if i.kind not in _NUMBERS]
    return next(iter(cards or current), None)


def directory_link(uow: UnitOfWork, patron_id: int) -> Identifier | None:
    """The student or staff number naming a directory category's entry (R20)."""
    for identifier in uow.patrons.identifiers(patron_id):
        if identifier.kind in _NUMBERS and identifier.status is IdentifierStatus.CURRENT:
            return identifier
    return None
