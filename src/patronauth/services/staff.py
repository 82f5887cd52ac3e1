"""What staff do at the counter (R25-R27, S8, S10): look up, unlock, complete, replace."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from patronauth.domain.credentials import (
    Channel,
    CredentialEvent,
    CredentialKind,
    CredentialState,
    transition,
)
from patronauth.domain.errors import Conflict, InvalidInput
from patronauth.domain.identifiers import (
    IdentifierKind,
    IdentifierStatus,
    lockout_key,
    normalise,
    parse_julac,
)
from patronauth.domain.patrons import Identifier, Patron, PatronStatus
from patronauth.domain.profile import BarcodeFormat, DirectoryConfig, ForcedChange
from patronauth.services import audit_keys
from patronauth.services.account import CredentialView, credential_views
from patronauth.services.audit import Trail, given_reason
from patronauth.services.interfaces import Ports, StoredAuditEvent
from patronauth.services.lookup import find_patron, require_patron
from patronauth.services.sessions import end_sessions, ended_elsewhere


@dataclass(frozen=True)
class PatronView:
    patron: Patron
    identifiers: Sequence[Identifier]
    credentials: Sequence[CredentialView]
    blocked_for: int  # seconds left of a block on the current identifier
    directory: DirectoryConfig | None = None  # where the PIN lives when not here (R20)


def show_patron(ports: Ports, identifier: str, *, institution: str | None = None) -> PatronView:
    now = ports.clock.now()
    with ports.read() as uow:
        found = require_patron(
            uow, ports.profiles, identifier, institution=institution, include_replaced=True
        )
        views = credential_views(uow, found.profile, found.patron, now)
        identifiers = uow.patrons.identifiers(found.patron.id)
    current = [i for i in identifiers if i.status is IdentifierStatus.CURRENT]
    blocked = max(
        (ports.counter.blocked_for(i.lookup_key, now.timestamp()) for i in current), default=0
    )
    directory = found.profile.directory_for(found.patron.category)
    return PatronView(found.patron, identifiers, views, blocked, directory)


def complete_registration(
    ports: Ports,
    identifier: str,
    *,
    staff: str,
    institution: str | None = None,
    reason: str | None = None,
) -> Patron:
    """R17, R25: a pending registration becomes active and can sign in."""
    why = given_reason(reason)
    now = ports.clock.now()
    with ports.uow() as uow:
        trail = Trail(uow, ports.clock, staff, Channel.STAFF.value, at=now, reason=why)
        found = require_patron(uow, ports.profiles, identifier, institution=institution)
        if found.patron.status is not PatronStatus.PENDING_REGISTRATION:
            raise Conflict.of("patron.not_pending", status=found.patron.status.value)
        uow.patrons.set_status(found.patron.id, PatronStatus.ACTIVE)
        trail.record("patron.complete", found.patron, identifier=found.identifier.lookup_key)
        uow.commit()
        patron = uow.patrons.get(found.patron.id)
    assert patron is not None
    return patron


def bar(
    ports: Ports,
    identifier: str,
    *,
    staff: str,
    barred: bool = True,
    institution: str | None = None,
    reason: str | None = None,
) -> Patron:
    """Bar a patron from the library's services, or lift the bar.

    A barred patron is refused at every sign-in (after the secret is proved, S4), and
    every session the patron holds ends at once on every store and node: a bar that
    let an open app token go on renewing would bar nothing.
    """
    why = given_reason(reason)
    now = ports.clock.now()
    with ports.uow() as uow:
        trail = Trail(uow, ports.clock, staff, Channel.STAFF.value, at=now, reason=why)
        found = require_patron(uow, ports.profiles, identifier, institution=institution)
        status = found.patron.status
        if barred and status is PatronStatus.BARRED:
            raise Conflict.of("patron.already_barred")
        if not barred and status is not PatronStatus.BARRED:
            raise Conflict.of("patron.not_barred", status=status.value)
        new = PatronStatus.BARRED if barred else PatronStatus.ACTIVE
        uow.patrons.set_status(found.patron.id, new)
        trail.record(
            "patron.bar" if barred else "patron.unbar",
            found.patron,
            identifier=found.identifier.lookup_key,
        )
        if barred:
            end_sessions(uow, found.patron.id, now)
        uow.commit()
        patron = uow.patrons.get(found.patron.id)
    if barred:
        ended_elsewhere(ports, found.patron.id, now)
    assert patron is not None
    return patron


@dataclass(frozen=True)
class UnlockResult:
    unblocked: Sequence[str]  # identifier keys whose counters were cleared
    unsuspended: Sequence[CredentialKind]


def unlock(
    ports: Ports,
    identifier: str,
    *,
    staff: str,
    institution: str | None = None,
    reason: str | None = None,
) -> UnlockResult:
    """R27: lift a block on the identifier and any suspension of the patron's credentials.

    Works for an identifier no patron has, too: blocks are kept per typed identifier.
    The patron's sessions stay open: an unlock changes no secret and no card, and a
    session was opened with the right secret before the block.
    """
    why = given_reason(reason)
    now = ports.clock.now()
    key = lockout_key(identifier)
    unsuspended = []
    with ports.uow() as uow:
        trail = Trail(uow, ports.clock, staff, Channel.STAFF.value, at=now, reason=why)
        found = find_patron(uow, ports.profiles, identifier, institution=institution)
        keys = {key}
        if found is not None:
            keys |= {i.lookup_key for i in uow.patrons.identifiers(found.patron.id)}
            for credential in uow.credentials.for_patron(found.patron.id):
                if credential.state is CredentialState.SUSPENDED:
                    state = transition(
                        credential.state,
                        CredentialEvent.UNLOCK,
                        suspended_from=credential.suspended_from,
                    )
                    uow.credentials.set_state(credential.id, state, None)
                    unsuspended.append(credential.kind)
                if credential.consecutive_failures:
                    uow.credentials.clear_failures(credential.id)
        trail.record(
            "unlock",
            found.patron if found else None,
            {"unsuspended": ",".join(unsuspended)},
            identifier=key,
        )
        uow.commit()
    # Outside the transaction: the counter may live in the same database.
    for k in sorted(keys):
        ports.counter.clear(k)
        ports.refusals.unblocked(k)
    return UnlockResult(sorted(keys), unsuspended)


def replace_card(
    ports: Ports,
    old: str,
    new: str,
    *,
    staff: str,
    institution: str | None = None,
    reason: str | None = None,
) -> Identifier:
    """R25: the old barcode stops signing in; the new one carries the same credentials.

    A card is replaced when it is lost or stolen: every session of the patron ends, on
    every store and node, whoever holds the old card.
    """
    why = given_reason(reason)
    now = ports.clock.now()
    with ports.uow() as uow:
        trail = Trail(uow, ports.clock, staff, Channel.STAFF.value, at=now, reason=why)
        found = require_patron(
            uow, ports.profiles, old, institution=institution, include_replaced=True
        )
        if not found.current:
            raise Conflict.of("card.not_current")
        category = found.profile.category(found.patron.category)
        if category.barcode_format is BarcodeFormat.JULAC:
            value = parse_julac(new).card_number
            if found.identifier.kind is not IdentifierKind.JULAC:
                raise InvalidInput.of("card.kind_mismatch")
        else:
            value = normalise(new, found.profile.identifiers)
        if value == found.identifier.value:
            raise Conflict.of("card.same")
        replacement = uow.patrons.replace_identifier(found.identifier, value, lockout_key(value))
        trail.record(
            "card.replace",
            found.patron,
            {"new": replacement.lookup_key},
            identifier=found.identifier.lookup_key,
        )
        end_sessions(uow, found.patron.id, now)
        uow.commit()
    ended_elsewhere(ports, found.patron.id, now)
    return replacement


@dataclass(frozen=True)
class ForceChangeResult:
    institution: str
    categories: Sequence[str] | None
    go_live: date


def force_change(
    ports: Ports,
    institution: str,
    go_live: date,
    *,
    categories: Sequence[str] | None,
    staff: str,
    reason: str | None = None,
) -> ForceChangeResult:
    """R26: secrets set before `go_live` must be changed at the first sign-in after it."""
    why = given_reason(reason)
    profile = ports.profiles.get(institution)
    for name in categories or ():
        if not name.strip():
            raise InvalidInput.of(
                "patron.unknown_category", category=name, known=", ".join(profile.categories)
            )
        profile.category(name)
    now = ports.clock.now()
    rule = ForcedChange(go_live, frozenset(categories) if categories else None)
    with ports.uow() as uow:
        trail = Trail(uow, ports.clock, staff, Channel.STAFF.value, at=now, reason=why)
        uow.forced_changes.add(institution, rule, created_by=staff, at=now)
        trail.record(
            "migrate.force_change",
            None,
            {
                "institution": institution,
                "categories": ",".join(categories or []) or "*",
                "from": go_live.isoformat(),
            },
        )
        uow.commit()
    return ForceChangeResult(institution, categories, go_live)


def audit_trail(
    ports: Ports, identifier: str | None, *, limit: int = 100, institution: str | None = None
) -> list[StoredAuditEvent]:
    """S8: the trail of one identifier (its patron's too, when there is one), or of all."""
    with ports.read() as uow:
        if identifier is None:
            return uow.audit.recent(limit=limit)
        key = lockout_key(identifier)
        found = find_patron(
            uow, ports.profiles, identifier, institution=institution, include_replaced=True
        )
        events = {
            e.id: e
            for form in audit_keys.searched(ports, key)
            for e in uow.audit.recent(identifier=form, limit=limit)
        }
        if found is not None:
            events |= {e.id: e for e in uow.audit.recent(patron_id=found.patron.id, limit=limit)}
    return sorted(events.values(), key=lambda e: e.id, reverse=True)[:limit]
