"""The one way a use case writes audit records: who did what, to which patron,
through which channel, with what outcome. Never a secret: `identifier` is the lockout
key, and `detail` holds only values safe to show to staff.

A use case makes one `Trail` for its unit of work, naming the actor and the channel
once; each record then says only what happened. A staff action's trail also carries
the reason the staff member gave: every record it writes then names, in its detail,
the staff member (`staff`) and the reason (`reason`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TypedDict, Unpack

from patronauth.domain.errors import InvalidInput
from patronauth.domain.patrons import Patron
from patronauth.domain.text import has_control_characters
from patronauth.services.interfaces import AuditEvent, Clock, UnitOfWork

MAX_REASON = 200


def reason_of(raw: str | None) -> str:
    """The reason a staff member gave for an action: one line, required, bounded."""
    reason = " ".join((raw or "").split())
    if not reason:
        raise InvalidInput.of("staff.reason_missing")
    if len(reason) > MAX_REASON or has_control_characters(reason):
        raise InvalidInput.of("staff.reason_invalid", max=MAX_REASON)
    return reason


def staff_detail(actor: str, reason: str | None) -> dict[str, str]:
    """`staff` and `reason` for the detail of a staff action's record: the console's
    login (`staff:<login>` without its prefix) or the command line's `os:<user>`."""
    if reason is None:
        return {}
    who = actor.removeprefix("staff:")
    return {"staff": who, "reason": reason}


def given_reason(raw: str | None) -> str | None:
    """A use case checks a reason it was given before it starts work."""
    return None if raw is None else reason_of(raw)


class Extra(TypedDict, total=False):
    outcome: str  # "ok" unless said
    institution: str | None  # when there is no patron
    identifier: str | None  # the lockout key
    source: str


@dataclass(frozen=True)
class Trail:
    """Audit records of one actor on one channel, written in `uow` (they land when the
    work commits), stamped `at` or, without it, by `clock` as each is made."""

    uow: UnitOfWork
    clock: Clock
    actor: str
    channel: str
    at: datetime | None = None  # the time the use case read at its start, if it did
    reason: str | None = None  # a staff action's reason, recorded in every record

    def event(
        self,
        action: str,
        patron: Patron | None = None,
        detail: Mapping[str, str] | None = None,
        **extra: Unpack[Extra],
    ) -> AuditEvent:
        """The record, not yet written (for `AuditLog.record_many`); the patron's
        institution when there is a patron."""
        return AuditEvent(
            at=self.at or self.clock.now(),
            action=action,
            outcome=extra.get("outcome", "ok"),
            actor=self.actor,
            channel=self.channel,
            source=extra.get("source", ""),
            institution=patron.institution if patron else extra.get("institution"),
            patron_id=patron.id if patron else None,
            identifier=extra.get("identifier"),
            detail={**(detail or {}), **staff_detail(self.actor, self.reason)},
        )

    def record(
        self,
        action: str,
        patron: Patron | None = None,
        detail: Mapping[str, str] | None = None,
        **extra: Unpack[Extra],
    ) -> None:
        self.uow.audit.record(self.event(action, patron, detail, **extra))
