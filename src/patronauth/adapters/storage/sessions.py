"""Sessions and one-time links in SQL."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, Row, insert, select, update

from patronauth.adapters.storage import tables as t
from patronauth.adapters.storage.errors import begin, connect
from patronauth.domain.credentials import CredentialKind
from patronauth.domain.sessions import Scope, Session, SessionChannel
from patronauth.services.interfaces import ActionPurpose, ActionToken


def _session(row: Row[Any]) -> Session:
    return Session(
        id=row.id,
        patron_id=row.patron_id,
        channel=SessionChannel(row.channel),
        scope=Scope(row.scope),
        change_kind=CredentialKind(row.change_kind) if row.change_kind else None,
        started_at=row.started_at,
        last_seen_at=row.last_seen_at,
        revoked=row.revoked_at is not None,
    )


class SqlSessionRows:
    """Sessions as rows of a unit of work's transaction: a sign-in opens its session in
    the same transaction as its outcome and audit record (P1)."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def create(
        self,
        token_hash: str,
        patron_id: int,
        channel: SessionChannel,
        scope: Scope,
        change_kind: CredentialKind | None,
        *,
        source: str,
        now: datetime,
    ) -> Session:
        new_id = self.conn.execute(
            _INSERT,
            {
                "token_hash": token_hash,
                "patron_id": patron_id,
                "channel": channel.value,
                "scope": scope.value,
                "change_kind": change_kind.value if change_kind else None,
                "source": source[:80],
                "started_at": now,
                "last_seen_at": now,
            },
        ).scalar_one()
        return Session(new_id, patron_id, channel, scope, change_kind, now, now, False)

    def rescope(self, session_id: int, scope: Scope, change_kind: CredentialKind | None) -> None:
        self.conn.execute(
            update(t.sessions)
            .where(t.sessions.c.id == session_id)
            .values(scope=scope.value, change_kind=change_kind.value if change_kind else None)
        )

    def revoke_patron(self, patron_id: int, now: datetime, *, keep: int | None = None) -> int:
        s = t.sessions
        query = update(s).where(s.c.patron_id == patron_id, s.c.revoked_at.is_(None))
        if keep is not None:
            query = query.where(s.c.id != keep)
        return int(self.conn.execute(query.values(revoked_at=now)).rowcount)


_INSERT = insert(t.sessions).returning(t.sessions.c.id)


class SqlSessionStore:
    in_database = True

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def create(
        self,
        token_hash: str,
        patron_id: int,
        channel: SessionChannel,
        scope: Scope,
        change_kind: CredentialKind | None,
        *,
        source: str,
        now: datetime,
    ) -> Session:
        with begin(self._engine) as conn:
            return SqlSessionRows(conn).create(
                token_hash, patron_id, channel, scope, change_kind, source=source, now=now
            )

    def find(self, token_hash: str) -> Session | None:
        with connect(self._engine) as conn:
            row = conn.execute(
                select(t.sessions).where(t.sessions.c.token_hash == token_hash)
            ).first()
        return _session(row) if row else None

    def _update(self, session_id: int, **values: object) -> None:
        with begin(self._engine) as conn:
            conn.execute(update(t.sessions).where(t.sessions.c.id == session_id).values(**values))

    def touch(self, session_id: int, now: datetime) -> None:
        self._update(session_id, last_seen_at=now)

    def rescope(self, session_id: int, scope: Scope, change_kind: CredentialKind | None) -> None:
        with begin(self._engine) as conn:
            SqlSessionRows(conn).rescope(session_id, scope, change_kind)

    def revoke(self, session_id: int, now: datetime) -> None:
        s = t.sessions
        with begin(self._engine) as conn:
            conn.execute(
                update(s)
                .where(s.c.id == session_id, s.c.revoked_at.is_(None))
                .values(revoked_at=now)
            )

    def revoke_patron(self, patron_id: int, now: datetime, *, keep: int | None = None) -> int:
        with begin(self._engine) as conn:
            return SqlSessionRows(conn).revoke_patron(patron_id, now, keep=keep)

    def row_id(self, session: Session) -> int | None:
        return session.id


class SqlActionTokens:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(
        self,
        token_hash: str,
        patron_id: int,
        purpose: ActionPurpose,
        kind: CredentialKind,
        *,
        now: datetime,
        expires_at: datetime,
    ) -> None:
        self.conn.execute(
            insert(t.action_tokens).values(
                token_hash=token_hash,
                patron_id=patron_id,
                purpose=purpose.value,
                kind=kind.value,
                created_at=now,
                expires_at=expires_at,
            )
        )

    def _usable(self, token_hash: str, purpose: ActionPurpose, now: datetime) -> Any:
        a = t.action_tokens
        return (
            a.c.token_hash == token_hash,
            a.c.purpose == purpose.value,
            a.c.used_at.is_(None),
            a.c.expires_at > now,
        )

    def peek(self, token_hash: str, purpose: ActionPurpose, now: datetime) -> ActionToken | None:
        a = t.action_tokens
        row = self.conn.execute(select(a).where(*self._usable(token_hash, purpose, now))).first()
        return _token(row) if row else None

    def take(self, token_hash: str, purpose: ActionPurpose, now: datetime) -> ActionToken | None:
        a = t.action_tokens
        row = self.conn.execute(
            update(a)
            .where(*self._usable(token_hash, purpose, now))
            .values(used_at=now)
            .returning(a.c.id, a.c.patron_id, a.c.purpose, a.c.kind, a.c.expires_at)
        ).first()
        return _token(row) if row else None

    def void(
        self, patron_id: int, purpose: ActionPurpose, kind: CredentialKind, now: datetime
    ) -> int:
        a = t.action_tokens
        done = self.conn.execute(
            update(a)
            .where(
                a.c.patron_id == patron_id,
                a.c.purpose == purpose.value,
                a.c.kind == kind.value,
                a.c.used_at.is_(None),
                a.c.expires_at > now,
            )
            .values(used_at=now)
        )
        return int(done.rowcount)


def _token(row: Row[Any]) -> ActionToken:
    return ActionToken(
        id=row.id,
        patron_id=row.patron_id,
        purpose=ActionPurpose(row.purpose),
        kind=CredentialKind(row.kind),
        expires_at=row.expires_at,
    )
