"""The one way a use case writes an audit record: who did what, to which patron,
through which channel, with what outcome. Never a secret: `identifier` is the lockout
key, and `detail` holds only values safe to show to staff."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from patronauth.domain.patrons import Patron
from patronauth.services.interfaces import AuditEvent, UnitOfWork


def audit_event(
    at: datetime,
    action: str,
    *,
    actor: str,
    channel: str,
    outcome: str = "ok",
    patron: Patron | None = None,
    institution: str | None = None,
    identifier: str | None = None,
    source: str = "",
    detail: Mapping[str, str] | None = None,
) -> AuditEvent:
    """An audit record; the patron's institution when there is a patron, else
    `institution`."""
    return AuditEvent(
        at=at,
        action=action,
        outcome=outcome,
        actor=actor,
        channel=channel,
        source=source,
        institution=patron.institution if patron is not None else institution,
        patron_id=patron.id if patron is not None else None,
        identifier=identifier,
        detail=dict(detail or {}),
    )


def record(
    uow: UnitOfWork,
    at: datetime,
    action: str,
    *,
    actor: str,
    channel: str,
    outcome: str = "ok",
    patron: Patron | None = None,
    institution: str | None = None,
    identifier: str | None = None,
    source: str = "",
    detail: Mapping[str, str] | None = None,
) -> None:
    """Write `audit_event(...)` in the unit of work; it lands when the work commits."""
    uow.audit.record(
        audit_event(
            at,
            action,
            actor=actor,
            channel=channel,
            outcome=outcome,
            patron=patron,
            institution=institution,
            identifier=identifier,
            source=source,
            detail=detail,
        )
    )
