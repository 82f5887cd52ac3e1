"""Sign-in: the one command every channel calls (S3-S5, S7, S8).

The attempt is checked and audited (`authenticate`), and when the channel keeps
sessions and the secret was right, a new session is opened with the scope the
outcome calls for: everything, or only the change step of a must-change credential.
Channels without sessions (SIP2, the telephone line, a proxy check) pass no `session`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from patronauth.domain.sessions import SessionChannel
from patronauth.services.authenticate import (
    Attempt,
    AuthResult,
    refuse_if_blocked,
    verify_attempt,
)
from patronauth.services.interfaces import Ports, UnitOfWork
from patronauth.services.sessions import Opened, open_session


@dataclass(frozen=True)
class SignedIn:
    result: AuthResult
    opened: Opened | None = None  # the new session, when one was asked for and earned

    @property
    def signed_in(self) -> bool:
        return self.result.signed_in


def sign_in(ports: Ports, attempt: Attempt, *, session: SessionChannel | None = None) -> SignedIn:
    if session is None:
        return SignedIn(verify_attempt(ports, attempt).result)

    def opening(uow: UnitOfWork, result: AuthResult) -> Opened:
        return open_session(ports, result, session, source=attempt.source, uow=uow)

    # Where sessions are rows of the database, the session is opened in the transaction
    # of the outcome and its audit record: one commit after the hash (P1).
    verified = verify_attempt(
        ports, attempt, open_in=opening if ports.sessions.in_database else None
    )
    result = verified.result
    if not result.signed_in:
        return SignedIn(result)
    if isinstance(verified.opened, Opened):
        return SignedIn(result, verified.opened)
    return SignedIn(result, open_session(ports, result, session, source=attempt.source))


def sign_in_blocked_first(ports: Ports, attempt: Attempt, *, session: SessionChannel) -> SignedIn:
    """P2: the sign-in with the block read before anything else, the throttle included:
    a blocked identifier's refusal costs one read of the attempt counter. Then the
    sign-in goes on without reading it again (the counter's admission still refuses a
    block begun in between)."""
    blocked = refuse_if_blocked(ports, attempt)
    if blocked is not None:
        return SignedIn(blocked)
    return sign_in(ports, replace(attempt, block_checked=True), session=session)
