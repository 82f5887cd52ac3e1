"""PolyU's recommendations and interlibrary-loan requests (R8): patrons submit them,
staff move them along."""

from __future__ import annotations

from patronauth.domain.circulation import PatronRequest, RequestKind, RequestStatus, request_text
from patronauth.domain.errors import InvalidInput, NotFound, Refused, Violation
from patronauth.services.audit import Trail
from patronauth.services.interfaces import Ports
from patronauth.services.lending import patron_in


def submit_request(
    ports: Ports,
    patron_id: int,
    kind: RequestKind,
    *,
    title: str,
    author: str = "",
    note: str = "",
    channel: str,
) -> PatronRequest:
    with ports.uow() as uow:
        trail = Trail(uow, ports.clock, "patron", channel)
        patron = patron_in(uow, patron_id)
        profile = ports.profiles.get(patron.institution)
        if kind.value not in profile.requests:
            raise Refused.of("request.not_offered")
        text = _checked({"title": title, "author": author, "note": note})
        made = uow.requests.add_request(patron.id, kind, text, ports.clock.now())
        trail.record(f"request.{kind.value}", patron, {"request": str(made.id)})
        uow.commit()
    return made


def _checked(typed: dict[str, str]) -> dict[str, str]:
    """Every field's text, or one refusal naming every wrong field at once."""
    text: dict[str, str] = {}
    violations: list[Violation] = []
    for name, raw in typed.items():
        try:
            text[name] = request_text(name, raw, required=name == "title")
        except Refused as refused:
            violations.extend(v.on(name) for v in refused.violations)
    if violations:
        raise InvalidInput(*violations)
    return text


def requests_of(ports: Ports, patron_id: int) -> list[PatronRequest]:
    with ports.read() as uow:
        return uow.requests.requests_of(patron_in(uow, patron_id).id)


def set_request_status(
    ports: Ports, request_id: int, status: RequestStatus, *, staff: str
) -> PatronRequest:
    with ports.uow() as uow:
        trail = Trail(uow, ports.clock, staff, "staff")
        found = uow.requests.request(request_id)
        if found is None:
            raise NotFound.of("patron_request.not_found")
        uow.requests.set_request_status(request_id, status, ports.clock.now())
        patron = patron_in(uow, found.patron_id)
        trail.record("request.status", patron, {"request": str(request_id), "status": status.value})
        updated = uow.requests.request(request_id)
        uow.commit()
    assert updated is not None
    return updated
