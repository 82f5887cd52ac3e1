"""Sign-in: the one command every channel calls (S3-S5, S7, S8).

The attempt is checked and audited (`authenticate`), and when the channel keeps
sessions and the secret was right, a new session is opened with the scope the
outcome calls for: everything, or only the change step of a must-change credential.
Channels without sessions (SIP2, the telephone line, a proxy check) pass no `session`.
"""

from __future__ import annotations

from dataclasses import dataclass

from patronauth.domain.sessions import SessionChannel
from patronauth.services.authenticate import Attempt, AuthResult, authenticate
from patronauth.services.interfaces import Ports
from patronauth.services.sessions import Opened, open_session


@dataclass(frozen=True)
class SignedIn:
    result: AuthResult
    opened: Opened | None = None  # the new session, when one was asked for and earned

    @property
    def signed_in(self) -> bool:
        return self.result.signed_in


def sign_in(ports: Ports, attempt: Attempt, *, session: SessionChannel | None = None) -> SignedIn:
    result = authenticate(ports, attempt)
    if session is None or not result.signed_in:
        return SignedIn(result)
    return SignedIn(result, open_session(ports, result, session, source=attempt.source))
