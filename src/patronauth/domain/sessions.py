"""Sessions of the web pages and bearer tokens of the app (S7).

A session is opened by a sign-in. Its scope says what it may reach: everything, or
only the change step (a default, temporary or must-change credential, S5). It ends
when signed out, after `idle_seconds` without use, or `absolute_seconds` after it
began, whichever comes first.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from patronauth.domain.credentials import CredentialKind


class Scope(StrEnum):
    FULL = "full"
    CHANGE = "change"  # only the change step of `kind`


class SessionChannel(StrEnum):
    WEB = "web"
    APP = "app"


@dataclass(frozen=True)
class SessionPolicy:
    idle_seconds: int = 15 * 60
    absolute_seconds: int = 8 * 3600

    def expires_at(self, started_at: datetime, last_seen_at: datetime) -> datetime:
        return min(
            last_seen_at + timedelta(seconds=self.idle_seconds),
            started_at + timedelta(seconds=self.absolute_seconds),
        )


@dataclass(frozen=True)
class Session:
    id: int
    patron_id: int
    channel: SessionChannel
    scope: Scope
    change_kind: CredentialKind | None  # the credential a CHANGE scope must change
    started_at: datetime
    last_seen_at: datetime
    revoked: bool


class SessionState(StrEnum):
    ACTIVE = "active"
    REVOKED = "revoked"
    IDLE = "idle"  # unused for longer than the idle timeout
    EXPIRED = "expired"  # past the absolute timeout


def state_of(session: Session, now: datetime, policy: SessionPolicy) -> SessionState:
    if session.revoked:
        return SessionState.REVOKED
    if now >= session.started_at + timedelta(seconds=policy.absolute_seconds):
        return SessionState.EXPIRED
    if now >= session.last_seen_at + timedelta(seconds=policy.idle_seconds):
        return SessionState.IDLE
    return SessionState.ACTIVE


def may_reach(session: Session, *, change_of: CredentialKind | None) -> bool:
    """A change-scope session reaches only the change of its credential (S5, R5)."""
    if session.scope is Scope.FULL:
        return True
    return change_of is not None and change_of == session.change_kind
