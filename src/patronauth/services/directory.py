"""The campus directory as a credential source (R20): the step of a sign-in that asks
the directory instead of the hasher.

The authenticate use case calls it after the lockout has admitted the attempt, so a
flood on one UID never reaches the directory. The directory alone decides whether
the PIN is right (a bind as the patron's entry); nothing is stored and nothing falls
back to a local secret: a directory that does not answer raises `Unavailable`.

Two ways in: an identifier of a library record in a directory category (a scanned
card, a student or staff number) finds the entry by the record's link number; any
other identifier, where a served institution has a directory, is taken for a Portal
UID (or a card the directory knows) and the record is found from the entry's link.
"""

from __future__ import annotations

from dataclasses import dataclass

from patronauth.domain.credentials import Outcome
from patronauth.domain.errors import Refused
from patronauth.domain.identifiers import base_form
from patronauth.domain.patrons import PatronStatus
from patronauth.domain.profile import DirectoryConfig, Profile
from patronauth.services.interfaces import (
    DirectoryEntry,
    DirectoryLookup,
    DirectoryProbe,
    Ports,
)
from patronauth.services.lookup import Found, directory_link, find_patron


@dataclass(frozen=True)
class DirectoryRoute:
    """Where the secret of an attempt is checked: decided before the lockout admits it."""

    found: Found | None  # the library record the identifier named, if any
    places: tuple[tuple[Profile, DirectoryConfig], ...]


@dataclass(frozen=True)
class DirectoryCheck:
    outcome: Outcome
    found: Found | None = None
    institution: str | None = None
    reason: str = ""  # for the audit record only: every INVALID looks alike outside


def directory_route(
    ports: Ports, found: Found | None, institution: str | None
) -> DirectoryRoute | None:
    """The directory route of an attempt, or None when the secret is held here."""
    if found is not None:
        config = found.profile.directory_for(found.patron.category)
        if config is None:
            return None
        return DirectoryRoute(found, ((found.profile, config),))
    profiles = (
        [ports.profiles.get(institution)] if institution else list(ports.profiles.all().values())
    )
    places = tuple((profile, config) for profile in profiles for config in profile.directories)
    return DirectoryRoute(None, places) if places else None


def check_in_directory(
    ports: Ports, route: DirectoryRoute, identifier: str, pin: str
) -> DirectoryCheck:
    if route.found is not None:
        return _check_record(ports, route.found, route.places[0][1], pin)
    typed = base_form(identifier)
    for profile, config in route.places:
        entry = _entry_for(ports, config, typed)
        if entry is not None:
            return _check_entry(ports, profile, config, entry, pin)
    return DirectoryCheck(Outcome.INVALID, reason="unknown")


def _entry_for(ports: Ports, config: DirectoryConfig, typed: str) -> DirectoryEntry | None:
    entry = ports.directory.find(config, DirectoryLookup.UID, typed)
    if entry is None and config.barcode_filter:
        entry = ports.directory.find(config, DirectoryLookup.BARCODE, typed)
    return entry


def _check_record(ports: Ports, found: Found, config: DirectoryConfig, pin: str) -> DirectoryCheck:
    """A library record in a directory category: its entry must still be there."""
    with ports.read() as uow:
        link = directory_link(uow, found.patron.id)
    entry = ports.directory.find(config, DirectoryLookup.LINK, link.value) if link else None
    if entry is None:
        # Gone or disabled: nobody can prove the PIN, so the answer is a wrong one's (S4).
        return DirectoryCheck(Outcome.INVALID, found, reason="directory_entry_gone")
    if not ports.directory.bind(config, entry.dn, pin):
        return DirectoryCheck(Outcome.INVALID, found, reason="directory_refused")
    return DirectoryCheck(_standing(found), found)


def _check_entry(
    ports: Ports, profile: Profile, config: DirectoryConfig, entry: DirectoryEntry, pin: str
) -> DirectoryCheck:
    if not ports.directory.bind(config, entry.dn, pin):
        return DirectoryCheck(Outcome.INVALID, reason="directory_refused")
    found = _record_of(ports, profile, entry)
    if found is None:
        # Seed 004: the Portal account comes before the library account (R25).
        return DirectoryCheck(Outcome.NOT_PROVISIONED, institution=profile.id)
    return DirectoryCheck(_standing(found), found)


def _record_of(ports: Ports, profile: Profile, entry: DirectoryEntry) -> Found | None:
    if not entry.link:
        return None
    try:
        with ports.read() as uow:
            found = find_patron(uow, ports.profiles, entry.link, institution=profile.id)
    except Refused:
        return None  # a link value no identifier can be
    if found is None or found.profile.directory_for(found.patron.category) is None:
        return None
    return found


@dataclass(frozen=True)
class DirectoryReport:
    """`directory check`: one directory of an institution and what each URL answered."""

    categories: tuple[str, ...]
    config: DirectoryConfig
    probes: tuple[DirectoryProbe, ...]

    @property
    def ok(self) -> bool:
        return bool(self.probes) and all(p.ok for p in self.probes)


def check_directories(ports: Ports, institution: str, uid: str | None) -> list[DirectoryReport]:
    """Connect, secure, bind with the service account and search, at every URL of every
    directory the institution's categories use; `uid` is searched for when given."""
    profile = ports.profiles.get(institution)
    if uid is not None:
        uid = base_form(uid)
    reports: list[DirectoryReport] = []
    for category in profile.categories.values():
        config = category.directory
        if config is None:
            continue
        known = next((r for r in reports if r.config == config), None)
        if known is not None:
            reports[reports.index(known)] = DirectoryReport(
                (*known.categories, category.name), config, known.probes
            )
            continue
        probes = tuple(ports.directory.probe(config, uid)) if config.configured else ()
        reports.append(DirectoryReport((category.name,), config, probes))
    if not reports:
        raise Refused.of("directory.none", institution=institution)
    return reports


def refuse_local_change(found: Found) -> None:
    """Directory categories have no local PIN (R20): a change, reset or set-up here
    changes nothing and says where the Portal PIN is changed."""
    config = found.profile.directory_for(found.patron.category)
    if config is not None:
        raise Refused.of("credential.directory_managed", url=config.pin_url or "-")


def _standing(found: Found) -> Outcome:
    """The library record's refusals apply as to any sign-in (R17, R25)."""
    if found.patron.status is PatronStatus.PENDING_REGISTRATION:
        return Outcome.PENDING_REGISTRATION
    if found.patron.status is PatronStatus.BARRED:
        return Outcome.BARRED
    return Outcome.OK
