"""The one way a use case writes audit records: who did what, to which patron,
through which channel, with what outcome. Never a secret: `identifier` is the lockout
key, and `detail` holds only values safe to show to staff.

A use case makes one `Trail` for its unit of work, naming the actor and the channel
once; each record then says only what happened.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TypedDict, Unpack

from patronauth.domain.patrons import Patron
from patronauth.services.interfaces import AuditEvent, Clock, UnitOfWork


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
            detail=dict(detail or {}),
        )

    def record(
        self,
        action: str,
        patron: Patron | None = None,
        detail: Mapping[str, str] | None = None,
        **extra: Unpack[Extra],
    ) -> None:
        self.uow.audit.record(self.event(action, patron, detail, **extra))
