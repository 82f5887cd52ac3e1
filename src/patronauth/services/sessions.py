"""Opening, checking and ending sessions of the web pages and the app (S5, S7).

A session's token is `<random>.<key id>.<mac>`: 128 random bits, then a keyed digest
of them (HMAC under the pepper key named, base64url-encoded). Only the token's SHA-256
is stored, so the store alone cannot tell a token it never gave out from one that was
signed out and forgotten; the MAC can. A token whose MAC does not hold (or that has no
shape of ours) was never issued by this installation: `session.not_issued`. One that
holds but is no longer stored was signed out, or forgotten after it ended:
`session.invalid`. Tokens issued before the MAC (a bare 22-character random value)
are looked up as before until they time out, as signed out when not found.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import re
from dataclasses import dataclass
from datetime import datetime

from patronauth.domain.credentials import CredentialKind, Outcome
from patronauth.domain.errors import Refused, StorageUnavailable
from patronauth.domain.sessions import Scope, Session, SessionChannel, SessionState, state_of
from patronauth.services.authenticate import AuthResult
from patronauth.services.interfaces import Ports, SessionRows, UnitOfWork

log = logging.getLogger(__name__)

TOUCH_EVERY_SECONDS = 30  # a busy page does not write on every request
TOKEN_SALT = "session-token"  # noqa: S105 (the keyed digest's purpose, no secret)
_PART = re.compile(r"[A-Za-z0-9_-]{1,128}")
_LEGACY = re.compile(r"[A-Za-z0-9_-]{22}")  # `secrets.token_urlsafe(16)` before the MAC


def token_hash(token: str) -> str:
    """Tokens are 128-bit random values: a plain SHA-256 is the right stored form."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def issue_token(ports: Ports) -> str:
    """A new session token: random, with this installation's MAC (see the module)."""
    value = ports.randomness.token()
    _, key_id, _, mac = ports.hasher.keyed(value, salt=TOKEN_SALT).split(":", 3)
    return f"{value}.{_b64(key_id.encode('utf-8'))}.{mac}"


def issued_here(ports: Ports, token: str) -> bool:
    """Whether `token` has a MAC of ours (or is of the form issued before the MAC).
    Nothing is looked up: a forged token costs one HMAC."""
    parts = token.split(".")
    if len(parts) == 1:
        return _LEGACY.fullmatch(token) is not None
    if len(parts) != 3 or not all(_PART.fullmatch(part) for part in parts):
        return False
    value, encoded_id, mac = parts
    try:
        key_id = base64.urlsafe_b64decode(encoded_id + "=" * (-len(encoded_id) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError):
        return False
    if ":" in key_id:
        return False
    return ports.hasher.keyed_matches(f"hk:{key_id}:{TOKEN_SALT}:{mac}", value)


@dataclass(frozen=True)
class Opened:
    token: str  # given to the browser or the app once, never stored
    session: Session
    expires_at: datetime

    @property
    def must_change(self) -> bool:
        return self.session.scope is Scope.CHANGE


def open_session(
    ports: Ports,
    result: AuthResult,
    channel: SessionChannel,
    *,
    source: str,
    uow: UnitOfWork | None = None,
) -> Opened:
    """A new session (and so a new id, S7) for a successful sign-in; in `uow`'s
    transaction when given (the store's sessions are rows of its database)."""
    if not result.signed_in or result.patron_id is None:
        raise ValueError("only a successful sign-in opens a session")
    change = result.outcome is Outcome.MUST_CHANGE
    return _open(
        ports,
        result.patron_id,
        channel,
        Scope.CHANGE if change else Scope.FULL,
        result.kind if change else None,
        source=source,
        uow=uow,
    )


def _open(
    ports: Ports,
    patron_id: int,
    channel: SessionChannel,
    scope: Scope,
    change_kind: CredentialKind | None,
    *,
    source: str,
    uow: UnitOfWork | None = None,
) -> Opened:
    now = ports.clock.now()
    token = issue_token(ports)
    store: SessionRows = ports.sessions if uow is None else uow.sessions
    session = store.create(
        token_hash(token), patron_id, channel, scope, change_kind, source=source, now=now
    )
    return Opened(token, session, ports.session_policy.expires_at(now, now))


def current_session(
    ports: Ports, token: str | None, *, channel: SessionChannel | None = None
) -> Session:
    """The session behind a token, or a refusal: missing, never issued here, unknown
    or ended, timed out. A front end names its `channel`: a web session's cookie is no
    app token, and an app token is no web session (each is refused as unknown on the
    other)."""
    if not token:
        raise Refused.of("session.missing")
    if not issued_here(ports, token):
        raise Refused.of("session.not_issued")
    session = ports.sessions.find(token_hash(token))
    if session is None or (channel is not None and session.channel is not channel):
        raise Refused.of("session.invalid")
    now = ports.clock.now()
    state = state_of(session, now, ports.session_policy)
    if state is SessionState.REVOKED:
        raise Refused.of("session.invalid")
    if state is not SessionState.ACTIVE:
        raise Refused.of("session.expired")
    if (now - session.last_seen_at).total_seconds() >= TOUCH_EVERY_SECONDS:
        ports.sessions.touch(session.id, now)
    return session


def expires_at(ports: Ports, session: Session) -> datetime:
    return ports.session_policy.expires_at(session.started_at, ports.clock.now())


def close_session(
    ports: Ports, token: str | None, *, channel: SessionChannel | None = None
) -> None:
    """Sign-out: the token stops working at once, on every node (only a session of
    `channel`, when named)."""
    if not token:
        return
    session = ports.sessions.find(token_hash(token))
    if session is not None and (channel is None or session.channel is channel):
        ports.sessions.revoke(session.id, ports.clock.now())


def end_sessions(uow: UnitOfWork, patron_id: int, now: datetime) -> None:
    """The database's part of ending every session of the patron, in the transaction
    of the command that ends them (a reset, a replaced card, a bar): committed with it
    or not at all. `ended_elsewhere` does the rest once it is committed."""
    uow.sessions.revoke_patron(patron_id, now)


def ended_elsewhere(
    ports: Ports, patron_id: int, now: datetime, *, keep: Session | None = None
) -> None:
    """After the commit: the patron's sessions (but `keep`) end on every store and
    node. The database's ended in the command's transaction, so its failing now undoes
    nothing and is only logged; Redis is asked first, and what it cannot be told is
    owed to it (see `adapters.sessions`)."""
    try:
        ports.sessions.revoke_patron(patron_id, now, keep=keep.id if keep else None)
    except StorageUnavailable:
        log.warning("patron %s: sessions ended in the database only (unreachable)", patron_id)


@dataclass(frozen=True)
class AfterChange:
    """How a change of a secret ends the patron's sessions (S7): every other session
    ends; the `session` that made the change (if any) reaches everything afterwards
    (the change step was what it was for): web pages `rotate` to a new session id, the
    app keeps its token."""

    session: Session | None = None
    rotate: bool = False
    source: str = ""

    @property
    def kept(self) -> Session | None:
        """The session that goes on after the change (the app's), if any."""
        return self.session if not self.rotate else None

    def reached(self, kind: CredentialKind) -> tuple[Scope, CredentialKind | None]:
        assert self.session is not None
        scope, change_kind = self.session.scope, self.session.change_kind
        if scope is Scope.CHANGE and change_kind is kind:
            return Scope.FULL, None
        return scope, change_kind


def change_sessions(
    ports: Ports,
    uow: UnitOfWork,
    patron_id: int,
    kind: CredentialKind,
    after: AfterChange,
    now: datetime,
) -> Opened | None:
    """The database's part of `after`, in the change's own transaction: the sessions
    it ends, the kept session's new scope, and (when sessions are rows of the database)
    the rotated session. `after_change` finishes it once committed."""
    kept = after.kept
    row = ports.sessions.row_id(kept) if kept is not None else None
    uow.sessions.revoke_patron(patron_id, now, keep=row)
    if row is not None:
        uow.sessions.rescope(row, *after.reached(kind))
    if after.rotate and after.session is not None and ports.sessions.in_database:
        scope, change_kind = after.reached(kind)
        return _open(
            ports, patron_id, after.session.channel, scope, change_kind,
            source=after.source, uow=uow,
        )  # fmt: skip
    return None


def after_change(
    ports: Ports,
    patron_id: int,
    kind: CredentialKind,
    after: AfterChange,
    opened: Opened | None,
    now: datetime,
) -> Opened | None:
    """After the commit: the rest of `after` on the stores outside the database. The
    change stands whatever happens here: a database failure is logged (its part was
    committed with the change), and a rotated session that cannot be opened sends the
    patron to sign in again with the new secret."""
    kept = after.kept
    ended_elsewhere(ports, patron_id, now, keep=kept or (opened.session if opened else None))
    try:
        if kept is not None and ports.sessions.row_id(kept) is None:
            ports.sessions.rescope(kept.id, *after.reached(kind))
        if after.rotate and after.session is not None and opened is None:
            scope, change_kind = after.reached(kind)
            return _open(
                ports, patron_id, after.session.channel, scope, change_kind,
                source=after.source,
            )  # fmt: skip
    except StorageUnavailable:
        log.warning("patron %s: changed; the session could not be carried on", patron_id)
    return opened
