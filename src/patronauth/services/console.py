"""The counter console's use cases: what a signed-in staff member looks up and does.

Each action checks the member's role (`domain.staff.LEAST_ROLE`), keeps to the member's
institutions, asks for a reason, and then calls the same staff use case the command
line uses, as the member (`staff:<login>`) and with the reason: the use case's own
audit record carries both (`staff` and `reason` in its detail).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from patronauth.domain.credentials import CredentialKind
from patronauth.domain.errors import InvalidInput, NotFound, Refused
from patronauth.domain.identifiers import normalise_email
from patronauth.domain.patrons import Identifier, Patron
from patronauth.domain.signon import Client, SignOnProtocol
from patronauth.domain.staff import RECHECKED, Action, Role, StaffMember, require
from patronauth.domain.terminals import Terminal
from patronauth.domain.text import has_control_characters
from patronauth.services.audit import reason_of
from patronauth.services.credentials import ResetResult, reset_credential
from patronauth.services.fines import pay_fines
from patronauth.services.interfaces import StaffPorts, StoredAuditEvent
from patronauth.services.lookup import current_card, find_patron
from patronauth.services.record import Record, record
from patronauth.services.signon import (
    AddedClient,
    add_client,
    disable_client,
    list_clients,
    rotate_client_secret,
)
from patronauth.services.staff import (
    PatronView,
    complete_registration,
    force_change,
    replace_card,
    show_patron,
    unlock,
)
from patronauth.services.staffaccounts import Added, Desk, add_staff, disable_staff, set_role
from patronauth.services.terminals import (
    add_terminal,
    disable_terminal,
    enable_terminal,
    list_terminals,
)
from patronauth.services.terminals import unlock_terminal as release_terminal

MAX_RESULTS = 50
RECENT_EVENTS = 20
HONG_KONG = ZoneInfo("Asia/Hong_Kong")


@dataclass(frozen=True)
class Hit:
    """A patron as the search lists them: masked as `patron show` masks them."""

    patron_id: int
    institution: str
    name: str | None
    card: str | None
    email: str | None
    phone_masked: str | None
    status: str


def _mask_email(email: str | None) -> str | None:
    if not email:
        return None
    local, _, domain = email.partition("@")
    return f"{local[:1]}***@{domain}"


def search(sp: StaffPorts, desk: Desk, text: str) -> list[Hit]:
    """Patrons of the member's institutions by card number, name, e-mail or phone."""
    require(desk.member.role, Action.SEARCH)
    query = " ".join(text.split())
    if not query or has_control_characters(query) or len(query) > 100:
        raise InvalidInput.of("staff.search_invalid")
    institutions = desk.member.institutions
    ports = sp.ports
    found: dict[int, Patron] = {}
    with ports.read() as uow:
        for institution in institutions:
            try:
                by_card = find_patron(
                    uow, ports.profiles, query, institution=institution, include_replaced=True
                )
            except Refused:
                by_card = None
            if by_card is not None:
                found[by_card.patron.id] = by_card.patron
        digits = "".join(ch for ch in query if ch.isdigit())
        if "@" in query:
            try:
                email = normalise_email(query)
            except InvalidInput:
                email = None
            if email:
                for p in uow.staff.find_patrons(institutions, email=email, limit=MAX_RESULTS):
                    found[p.id] = p
        elif len(digits) >= 8 and len(digits) == len(query.replace(" ", "")):
            # Phone numbers are kept only as a salted digest and their first two digits.
            for p in uow.staff.find_patrons(
                institutions, phone_prefix=digits[:2], limit=10 * MAX_RESULTS
            ):
                if p.phone_digest and ports.hasher.keyed_matches(p.phone_digest, digits):
                    found[p.id] = p
        if len(query) >= 2 and "@" not in query:
            for p in uow.staff.find_patrons(institutions, name=query, limit=MAX_RESULTS):
                found[p.id] = p
        hits = []
        for patron in list(found.values())[:MAX_RESULTS]:
            card = current_card(uow, patron.id)
            hits.append(
                Hit(
                    patron.id,
                    patron.institution,
                    patron.name,
                    card.value if card else None,
                    _mask_email(patron.email),
                    patron.phone_masked,
                    patron.status.value,
                )
            )
    return hits


@dataclass(frozen=True)
class PatronPage:
    view: PatronView
    record: Record
    events: Sequence[StoredAuditEvent]
    card: Identifier


def _patron(sp: StaffPorts, desk: Desk, patron_id: int) -> tuple[Patron, Identifier]:
    """The patron, if in one of the member's institutions; else not found, alike."""
    with sp.ports.read() as uow:
        patron = uow.patrons.get(patron_id)
        card = current_card(uow, patron_id) if patron else None
        if card is None:
            identifiers = uow.patrons.identifiers(patron_id) if patron else []
            card = identifiers[-1] if identifiers else None
    if patron is None or card is None or not desk.member.serves(patron.institution):
        raise NotFound.of("patron.not_found")
    return patron, card


def patron_page(sp: StaffPorts, desk: Desk, patron_id: int) -> PatronPage:
    require(desk.member.role, Action.VIEW_PATRON)
    patron, card = _patron(sp, desk, patron_id)
    view = show_patron(sp.ports, card.value, institution=patron.institution)
    lending = record(sp.ports, patron.id)
    with sp.ports.read() as uow:
        events = uow.audit.recent(patron_id=patron.id, limit=RECENT_EVENTS)
    return PatronPage(view, lending, events, card)


def _act(sp: StaffPorts, desk: Desk, action: Action, reason: str | None) -> str:
    """The role allows the action, the second factor is recent enough where it must be,
    and there is a reason."""
    require(desk.member.role, action)
    if action in RECHECKED and not desk.session.recently_verified(sp.ports.clock.now()):
        raise Refused.of("staff.recheck_needed")
    return reason_of(reason)


def reset(
    sp: StaffPorts, desk: Desk, patron_id: int, kind: CredentialKind | None, reason: str | None
) -> ResetResult:
    why = _act(sp, desk, Action.RESET, reason)
    patron, card = _patron(sp, desk, patron_id)
    return reset_credential(
        sp.ports,
        card.value,
        kind,
        staff=desk.member.actor,
        institution=patron.institution,
        reason=why,
    )


def unlock_patron(sp: StaffPorts, desk: Desk, patron_id: int, reason: str | None) -> None:
    why = _act(sp, desk, Action.UNLOCK, reason)
    patron, card = _patron(sp, desk, patron_id)
    unlock(
        sp.ports, card.value, staff=desk.member.actor, institution=patron.institution, reason=why
    )


def replace(sp: StaffPorts, desk: Desk, patron_id: int, new: str, reason: str | None) -> Identifier:
    why = _act(sp, desk, Action.REPLACE_CARD, reason)
    patron, card = _patron(sp, desk, patron_id)
    return replace_card(
        sp.ports,
        card.value,
        new,
        staff=desk.member.actor,
        institution=patron.institution,
        reason=why,
    )


def complete(sp: StaffPorts, desk: Desk, patron_id: int, reason: str | None) -> None:
    why = _act(sp, desk, Action.COMPLETE_REGISTRATION, reason)
    patron, card = _patron(sp, desk, patron_id)
    complete_registration(
        sp.ports, card.value, staff=desk.member.actor, institution=patron.institution, reason=why
    )


def pay(sp: StaffPorts, desk: Desk, patron_id: int, amount: int, reason: str | None) -> int:
    why = _act(sp, desk, Action.RECORD_PAYMENT, reason)
    patron, card = _patron(sp, desk, patron_id)
    return pay_fines(
        sp.ports,
        card.value,
        amount,
        staff=desk.member.actor,
        institution=patron.institution,
        reason=why,
    )


def go_live(
    sp: StaffPorts,
    desk: Desk,
    institution: str,
    day: date,
    categories: Sequence[str] | None,
    reason: str | None,
) -> None:
    why = _act(sp, desk, Action.FORCE_CHANGE, reason)
    if not desk.member.serves(institution):
        raise NotFound.of("institution.unknown", institution=institution)
    force_change(
        sp.ports, institution, day, categories=categories, staff=desk.member.actor, reason=why
    )


def terminals(sp: StaffPorts, desk: Desk) -> list[Terminal]:
    require(desk.member.role, Action.TERMINALS)
    found: list[Terminal] = []
    for institution in desk.member.institutions:
        found.extend(list_terminals(sp.ports, institution))
    return found


def new_terminal(
    sp: StaffPorts,
    desk: Desk,
    *,
    login: str,
    institution: str,
    password: str,
    location: str | None,
    reason: str | None,
) -> None:
    why = _act(sp, desk, Action.TERMINALS, reason)
    if not desk.member.serves(institution):
        raise NotFound.of("institution.unknown", institution=institution)
    add_terminal(
        sp.ports,
        login=login,
        institution=institution,
        password=password,
        location=location,
        staff=desk.member.actor,
        reason=why,
    )


def _own_terminal(sp: StaffPorts, desk: Desk, login: str) -> None:
    if login not in {t.login for t in terminals(sp, desk)}:
        raise NotFound.of("terminal.not_found")


def switch_terminal(
    sp: StaffPorts, desk: Desk, login: str, *, enabled: bool, reason: str | None
) -> None:
    why = _act(sp, desk, Action.TERMINALS, reason)
    _own_terminal(sp, desk, login)
    switch = enable_terminal if enabled else disable_terminal
    switch(sp.ports, login, staff=desk.member.actor, reason=why)


def unlock_terminal(sp: StaffPorts, desk: Desk, login: str, reason: str | None) -> None:
    """Lift a block on a terminal's logins (after wrong passwords)."""
    why = _act(sp, desk, Action.TERMINALS, reason)
    _own_terminal(sp, desk, login)
    release_terminal(sp.ports, login, staff=desk.member.actor, reason=why)


# --- the library's sign-on services (OpenID Connect, CAS, the e-resource proxy) -------


def clients(sp: StaffPorts, desk: Desk) -> list[Client]:
    """The services of the member's institutions (never a secret)."""
    require(desk.member.role, Action.SIGN_ON)
    found: list[Client] = []
    for institution in desk.member.institutions:
        found.extend(list_clients(sp.ports, institution))
    return found


def new_client(
    sp: StaffPorts,
    desk: Desk,
    *,
    name: str,
    protocol: SignOnProtocol,
    institution: str,
    redirect_uris: Sequence[str],
    logout_uris: Sequence[str],
    allow_from: Sequence[str],
    trusted: bool,
    public: bool,
    reason: str | None,
) -> AddedClient:
    """Register a service; the secret, if it has one, is in the answer only."""
    why = _act(sp, desk, Action.SIGN_ON, reason)
    if not desk.member.serves(institution):
        raise NotFound.of("institution.unknown", institution=institution)
    return add_client(
        sp.ports,
        name=name,
        protocol=protocol,
        institution=institution,
        redirect_uri=tuple(redirect_uris),
        logout_uri=tuple(logout_uris),
        allow_from=tuple(allow_from),
        trusted=trusted,
        public=public,
        staff=desk.member.actor,
        reason=why,
    )


def _own_client(sp: StaffPorts, desk: Desk, client_id: str) -> None:
    if client_id not in {c.client_id for c in clients(sp, desk)}:
        raise NotFound.of("client.not_found")


def stop_client(sp: StaffPorts, desk: Desk, client_id: str, reason: str | None) -> Client:
    why = _act(sp, desk, Action.SIGN_ON, reason)
    _own_client(sp, desk, client_id)
    return disable_client(sp.ports, client_id, staff=desk.member.actor, reason=why)


def new_client_secret(
    sp: StaffPorts, desk: Desk, client_id: str, reason: str | None
) -> AddedClient:
    why = _act(sp, desk, Action.SIGN_ON, reason)
    _own_client(sp, desk, client_id)
    return rotate_client_secret(sp.ports, client_id, staff=desk.member.actor, reason=why)


# --- administrators ----------------------------------------------------------------------


def change_role(
    sp: StaffPorts, desk: Desk, login: str, role: Role, reason: str | None
) -> StaffMember:
    why = _act(sp, desk, Action.MANAGE_STAFF, reason)
    return set_role(sp, login, role, by=desk.member.actor, reason=why)


def audit_view(
    sp: StaffPorts,
    desk: Desk,
    *,
    actor: str | None = None,
    patron_id: int | None = None,
    day: date | None = None,
    limit: int = 200,
) -> list[StoredAuditEvent]:
    """The audit trail of the member's institutions, by staff member, patron and day
    (a day in Hong Kong time)."""
    require(desk.member.role, Action.AUDIT)
    since = until = None
    if day is not None:
        start = datetime(day.year, day.month, day.day, tzinfo=HONG_KONG)
        since, until = start, start + timedelta(days=1)
    with sp.ports.read() as uow:
        return uow.staff.audit(
            institutions=desk.member.institutions,
            actor=actor,
            patron_id=patron_id,
            since=since,
            until=until,
            limit=limit,
        )


def own_actions(sp: StaffPorts, desk: Desk, *, limit: int = 100) -> list[StoredAuditEvent]:
    """What this member did, newest first (their own page)."""
    with sp.ports.read() as uow:
        return uow.staff.audit(institutions=None, actor=desk.member.actor, limit=limit)


def add_member(
    sp: StaffPorts,
    desk: Desk,
    login: str,
    name: str,
    role: Role,
    institutions: Sequence[str],
    reason: str | None,
) -> Added:
    why = _act(sp, desk, Action.MANAGE_STAFF, reason)
    return add_staff(sp, login, name, role, institutions, by=desk.member.actor, reason=why)


def disable_member(sp: StaffPorts, desk: Desk, login: str, reason: str | None) -> StaffMember:
    why = _act(sp, desk, Action.MANAGE_STAFF, reason)
    return disable_staff(sp, login, by=desk.member.actor, reason=why)
