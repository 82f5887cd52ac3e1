"""My Account: what a signed-in patron sees of their record, and their own changes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from patronauth.domain.credentials import CredentialKind, CredentialState
from patronauth.domain.errors import NotFound
from patronauth.domain.patrons import Credential, Identifier, Patron
from patronauth.domain.profile import ForcedChange, Profile, change_due
from patronauth.domain.sessions import Session
from patronauth.services import audit_keys
from patronauth.services.interfaces import AuditEvent, Ports, UnitOfWork
from patronauth.services.lookup import current_card

RECENT_SIGN_INS = 10


@dataclass(frozen=True)
class CredentialView:
    kind: CredentialKind
    state: CredentialState  # as the next sign-in will see it (R26 included)
    set_at: datetime
    expires_at: datetime | None
    consecutive_failures: int


def credential_views(
    uow: UnitOfWork, profile: Profile, patron: Patron, now: datetime
) -> list[CredentialView]:
    forced = [*profile.forced_changes, *uow.forced_changes.for_institution(patron.institution)]
    return [_view(profile, patron, c, forced, now) for c in uow.credentials.for_patron(patron.id)]


def _view(
    profile: Profile,
    patron: Patron,
    credential: Credential,
    forced: Sequence[ForcedChange],
    now: datetime,
) -> CredentialView:
    state = credential.state
    if state is CredentialState.CHOSEN:
        settings = profile.credential(patron.category, credential.kind)
        if change_due(
            forced,
            patron.category,
            settings,
            set_on=profile.day_of(credential.set_at),
            policy_from=credential.policy_from,
            today=profile.day_of(now),
        ):
            state = CredentialState.MUST_CHANGE
    return CredentialView(
        credential.kind,
        state,
        credential.set_at,
        credential.expires_at,
        credential.consecutive_failures,
    )


@dataclass(frozen=True)
class Account:
    patron: Patron
    profile: Profile
    card: Identifier
    credentials: Sequence[CredentialView]
    recent_sign_ins: Sequence[AuditEvent]

    @property
    def defaults_in_use(self) -> list[CredentialKind]:
        """Credentials still at their default: My Account shows a notice for each."""
        return [c.kind for c in self.credentials if c.state is CredentialState.DEFAULT]


def _current_card(uow: UnitOfWork, patron_id: int) -> Identifier:
    card = current_card(uow, patron_id)
    if card is None:
        raise NotFound.of("patron.not_found")
    return card


def account(ports: Ports, session: Session) -> Account:
    now = ports.clock.now()
    with ports.read() as uow:
        patron = uow.patrons.get(session.patron_id)
        if patron is None:
            raise NotFound.of("patron.not_found")
        profile = ports.profiles.get(patron.institution)
        card = _current_card(uow, patron.id)
        return Account(
            patron=patron,
            profile=profile,
            card=card,
            credentials=credential_views(uow, profile, patron, now),
            recent_sign_ins=_recent_sign_ins(ports, uow, patron, card),
        )


def _recent_sign_ins(
    ports: Ports, uow: UnitOfWork, patron: Patron, card: Identifier
) -> list[AuditEvent]:
    """The patron's sign-ins, and the attempts refused on the card while it was blocked
    (those are recorded before anything is looked up, so under the card key's keyed
    digest alone)."""
    limit = RECENT_SIGN_INS * 3
    events = {e.id: e for e in uow.audit.recent(patron_id=patron.id, limit=limit)}
    for form in audit_keys.searched(ports, card.lookup_key):
        for e in uow.audit.recent(identifier=form, limit=limit):
            if e.event.patron_id is None and e.event.institution in {None, patron.institution}:
                events[e.id] = e
    newest_first = sorted(events.values(), key=lambda e: e.id, reverse=True)
    return [e.event for e in newest_first if e.event.action == "sign_in"][:RECENT_SIGN_INS]
