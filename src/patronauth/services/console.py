"""The counter console's use cases: what a signed-in staff member looks up and does.

Each action checks the member's role (`domain.staff.LEAST_ROLE`), keeps to the member's
institutions, asks for a reason, and then calls the same staff use case the command
line uses, as the member (`staff:<login>`). The reason lands in the audit trail beside
the use case's own record, under the same actor, patron and time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from patronauth.domain.credentials import CredentialKind
from patronauth.domain.errors import InvalidInput, NotFound, Refused
from patronauth.domain.identifiers import lockout_key, normalise_email
from patronauth.domain.patrons import Identifier, Patron
from patronauth.domain.staff import RECHECKED, Action, Role, StaffMember, require
from patronauth.domain.text import has_control_characters
from patronauth.services.audit import Trail
from patronauth.services.credentials import ResetResult, reset_credential
from patronauth.services.fines import pay_fines
from patronauth.services.interfaces import Ports, StaffPorts, StoredAuditEvent
from patronauth.services.lookup import current_card, find_patron
from patronauth.services.record import Record, record
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
MAX_REASON = 200
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


def reason_of(raw: str | None) -> str:
    reason = " ".join((raw or "").split())
    if not reason:
        raise InvalidInput.of("staff.reason_missing")
    if len(reason) > MAX_REASON or has_control_characters(reason):
        raise InvalidInput.of("staff.reason_invalid", max=MAX_REASON)
    return reason


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
    with ports.uow() as uow:
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
    with sp.ports.uow() as uow:
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
    with sp.ports.uow() as uow:
        events = uow.audit.recent(patron_id=patron.id, limit=RECENT_EVENTS)
    return PatronPage(view, lending, events, card)


def _note(
    sp: StaffPorts, desk: Desk, action: Action, patron: Patron | None, reason: str, **detail: str
) -> None:
    """The reason of a console action, recorded under the member's login."""
    with sp.ports.uow() as uow:
        Trail(uow, sp.ports.clock, desk.member.actor, "staff").record(
            "staff.action",
            patron,
            {"action": action.value, "reason": reason, **detail},
            institution=None if patron else (desk.member.institutions or (None,))[0],
        )
        uow.commit()


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
    result = reset_credential(
        sp.ports, card.value, kind, staff=desk.member.actor, institution=patron.institution
    )
    _note(sp, desk, Action.RESET, patron, why, credential=result.kind.value)
    return result


def unlock_patron(sp: StaffPorts, desk: Desk, patron_id: int, reason: str | None) -> None:
    why = _act(sp, desk, Action.UNLOCK, reason)
    patron, card = _patron(sp, desk, patron_id)
    unlock(sp.ports, card.value, staff=desk.member.actor, institution=patron.institution)
    _note(sp, desk, Action.UNLOCK, patron, why)


def replace(sp: StaffPorts, desk: Desk, patron_id: int, new: str, reason: str | None) -> Identifier:
    why = _act(sp, desk, Action.REPLACE_CARD, reason)
    patron, card = _patron(sp, desk, patron_id)
    done = replace_card(
        sp.ports, card.value, new, staff=desk.member.actor, institution=patron.institution
    )
    _note(sp, desk, Action.REPLACE_CARD, patron, why, new=done.lookup_key)
    return done


def complete(sp: StaffPorts, desk: Desk, patron_id: int, reason: str | None) -> None:
    why = _act(sp, desk, Action.COMPLETE_REGISTRATION, reason)
    patron, card = _patron(sp, desk, patron_id)
    complete_registration(
        sp.ports, card.value, staff=desk.member.actor, institution=patron.institution
    )
    _note(sp, desk, Action.COMPLETE_REGISTRATION, patron, why)


def pay(sp: StaffPorts, desk: Desk, patron_id: int, amount: int, reason: str | None) -> int:
    why = _act(sp, desk, Action.RECORD_PAYMENT, reason)
    patron, card = _patron(sp, desk, patron_id)
    left = pay_fines(
        sp.ports, card.value, amount, staff=desk.member.actor, institution=patron.institution
    )
    _note(sp, desk, Action.RECORD_PAYMENT, patron, why, amount=str(amount))
    return left


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
    force_change(sp.ports, institution, day, categories=categories, staff=desk.member.actor)
    _note(sp, desk, Action.FORCE_CHANGE, None, why, institution=institution)


def terminals(sp: StaffPorts, desk: Desk) -> list[object]:
    require(desk.member.role, Action.TERMINALS)
    found: list[object] = []
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
    )
    _note(sp, desk, Action.TERMINALS, None, why, terminal=login, change="add")


def switch_terminal(
    sp: StaffPorts, desk: Desk, login: str, *, enabled: bool, reason: str | None
) -> None:
    why = _act(sp, desk, Action.TERMINALS, reason)
    known = {getattr(t, "login", None): t for t in terminals(sp, desk)}
    if login not in known:
        raise NotFound.of("terminal.not_found")
    if enabled:
        enable_terminal(sp.ports, login, staff=desk.member.actor)
    else:
        disable_terminal(sp.ports, login, staff=desk.member.actor)
    _note(
        sp,
        desk,
        Action.TERMINALS,
        None,
        why,
        terminal=login,
        change="enable" if enabled else "disable",
    )


def unlock_terminal(sp: StaffPorts, desk: Desk, login: str, reason: str | None) -> None:
    """Lift a block on a terminal's logins (after wrong passwords)."""
    why = _act(sp, desk, Action.TERMINALS, reason)
    known = {getattr(t, "login", None) for t in terminals(sp, desk)}
    if login not in known:
        raise NotFound.of("terminal.not_found")
    release_terminal(sp.ports, login, staff=desk.member.actor)
    _note(sp, desk, Action.TERMINALS, None, why, terminal=login, change="unlock")


def change_role(
    sp: StaffPorts, desk: Desk, login: str, role: Role, reason: str | None
) -> StaffMember:
    why = _act(sp, desk, Action.MANAGE_STAFF, reason)
    member = set_role(sp, login, role, by=desk.member.actor)
    _note(sp, desk, Action.MANAGE_STAFF, None, why, staff=member.login, role=role.value)
    return member


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
    with sp.ports.uow() as uow:
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
    with sp.ports.uow() as uow:
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
    added = add_staff(sp, login, name, role, institutions, by=desk.member.actor)
    _note(sp, desk, Action.MANAGE_STAFF, None, why, staff=added.member.login, change="add")
    return added


def disable_member(sp: StaffPorts, desk: Desk, login: str, reason: str | None) -> StaffMember:
    why = _act(sp, desk, Action.MANAGE_STAFF, reason)
    member = disable_staff(sp, login, by=desk.member.actor)
    _note(sp, desk, Action.MANAGE_STAFF, None, why, staff=member.login, change="disable")
    return member


def note_command(
    ports: Ports,
    actor: str,
    action: Action,
    identifier: str,
    reason: str | None,
    *,
    institution: str | None = None,
) -> None:
    """The reason a staff command on the server gave (`--reason`), recorded as the
    console records its own: a `staff.action` under the command's actor and patron."""
    if reason is None:
        return
    why = reason_of(reason)
    with ports.uow() as uow:
        found = find_patron(
            uow, ports.profiles, identifier, institution=institution, include_replaced=True
        )
        Trail(uow, ports.clock, actor, "staff").record(
            "staff.action",
            found.patron if found else None,
            {"action": action.value, "reason": why},
            institution=institution,
            identifier=lockout_key(identifier),
            source="cli",
        )
        uow.commit()
