"""A one-time code confirming the first change of a guessable default (issue 10, 18).

Where a profile says `confirm_default_change_by_email`, a change made with a credential
still at its default is not stored until the patron types a code sent to the
registered e-mail address: whoever knows a card number (HKCT's default) cannot take
over the account by choosing its first password. The first request with the right
current secret and an acceptable new one sends the code (`change.code_sent`); the
same request repeated with the code stores the change. A code works once, for
`CODE_MINUTES`, for that patron and credential only; at most `CODES_PER_HOUR` are
sent to one patron an hour. It is kept only as a hash.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from patronauth.domain.credentials import CredentialKind, CredentialState
from patronauth.domain.errors import Refused
from patronauth.domain.patrons import Credential, Patron
from patronauth.services.interfaces import ActionPurpose, NoticeKind, Ports
from patronauth.services.lookup import Found
from patronauth.services.sessions import token_hash

CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I
CODE_LENGTH = 8
CODE_MINUTES = 15
CODES_PER_HOUR = "5 per hour"

Notify = Callable[..., None]


def needed(found: Found, credential: Credential) -> bool:
    settings = found.profile.credential(found.patron.category, credential.kind)
    return settings.confirm_default_change_by_email and credential.state is CredentialState.DEFAULT


def _hash(patron_id: int, kind: CredentialKind, code: str) -> str:
    return token_hash(f"confirm_change\0{patron_id}\0{kind.value}\0{code}")


def normalised(code: str) -> str:
    """What a patron types: spaces, dashes and case do not matter."""
    return "".join(ch for ch in code.upper() if ch not in " -")


def confirm(
    ports: Ports, found: Found, credential: Credential, code: str | None, notify: Notify
) -> None:
    """Returns when `code` confirms the change; otherwise sends a code or refuses."""
    patron = found.patron
    if not patron.email:
        raise Refused.of("change.code_no_email")
    if code is None or not normalised(code):
        _send(ports, patron, credential.kind, notify)
        raise Refused.of("change.code_sent", minutes=CODE_MINUTES)
    now = ports.clock.now()
    with ports.uow() as uow:
        taken = uow.action_tokens.take(
            _hash(patron.id, credential.kind, normalised(code)), ActionPurpose.CONFIRM_CHANGE, now
        )
        uow.commit()
    if taken is None or taken.patron_id != patron.id:
        raise Refused.of("change.code_invalid")


def _send(ports: Ports, patron: Patron, kind: CredentialKind, notify: Notify) -> None:
    wait = ports.throttle.hit_limit(CODES_PER_HOUR, "change_code", str(patron.id))
    if wait:
        raise Refused.of("change.code_limit", minutes=max(1, -(-wait // 60)))
    code = ports.randomness.secret(CODE_ALPHABET, CODE_LENGTH)
    now = ports.clock.now()
    with ports.uow() as uow:
        uow.action_tokens.void(patron.id, ActionPurpose.CONFIRM_CHANGE, kind, now)  # one live
        uow.action_tokens.add(
            _hash(patron.id, kind, code),
            patron.id,
            ActionPurpose.CONFIRM_CHANGE,
            kind,
            now=now,
            expires_at=now + timedelta(minutes=CODE_MINUTES),
        )
        uow.commit()
    notify(ports, patron, NoticeKind.CHANGE_CODE, kind, code=code, minutes=str(CODE_MINUTES))
