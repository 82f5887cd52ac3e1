"""Staff accounts, security keys, enrolment links and console sessions in SQL."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, delete, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from patronauth.adapters.storage import tables as t
from patronauth.adapters.storage.repositories import patron_from
from patronauth.domain.errors import Conflict
from patronauth.domain.patrons import Patron
from patronauth.domain.staff import Role, StaffMember, StaffSession, StaffStatus, Stage
from patronauth.services.interfaces import (
    AuditEvent,
    Enrolment,
    StoredAuditEvent,
    StoredStaff,
    WebAuthnKey,
)


def _stored(row: Row[Any], keys: int) -> StoredStaff:
    return StoredStaff(
        member=StaffMember(
            id=row.id,
            login=row.login,
            name=row.name,
            role=Role(row.role),
            institutions=tuple(row.institutions.split()),
            status=StaffStatus(row.status),
            has_totp=row.totp_secret is not None,
            webauthn_keys=keys,
        ),
        password_hash=row.password_hash,
        totp_secret=row.totp_secret,
        totp_last_step=row.totp_last_step,
    )


class SqlStaff:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(
        self,
        login: str,
        name: str,
        role: Role,
        institutions: Sequence[str],
        *,
        created_by: str,
        at: datetime,
    ) -> StaffMember:
        try:
            with self.conn.begin_nested():
                new_id = self.conn.execute(
                    insert(t.staff)
                    .values(
                        login=login,
                        name=name,
                        role=role.value,
                        institutions=" ".join(institutions),
                        status=StaffStatus.ENROLLING.value,
                        created_by=created_by,
                        created_at=at,
                        updated_at=at,
                    )
                    .returning(t.staff.c.id)
                ).scalar_one()
        except IntegrityError:
            raise Conflict.of("staff.login_taken", login=login) from None
        stored = self.get(new_id)
        assert stored is not None
        return stored.member

    def _keys(self, staff_id: int) -> int:
        k = t.staff_keys
        return int(
            self.conn.execute(
                select(func.count()).select_from(k).where(k.c.staff_id == staff_id)
            ).scalar_one()
        )

    def get(self, staff_id: int) -> StoredStaff | None:
        row = self.conn.execute(select(t.staff).where(t.staff.c.id == staff_id)).first()
        return _stored(row, self._keys(row.id)) if row else None

    def by_login(self, login: str) -> StoredStaff | None:
        row = self.conn.execute(select(t.staff).where(t.staff.c.login == login)).first()
        return _stored(row, self._keys(row.id)) if row else None

    def all(self) -> list[StaffMember]:
        rows = self.conn.execute(select(t.staff).order_by(t.staff.c.login)).all()
        return [_stored(r, self._keys(r.id)).member for r in rows]

    def _set(self, staff_id: int, at: datetime, **values: Any) -> None:
        self.conn.execute(
            update(t.staff).where(t.staff.c.id == staff_id).values(updated_at=at, **values)
        )

    def set_status(self, staff_id: int, status: StaffStatus, at: datetime) -> None:
        self._set(staff_id, at, status=status.value)

    def set_role(self, staff_id: int, role: Role, at: datetime) -> None:
        self._set(staff_id, at, role=role.value)

    def set_password(self, staff_id: int, password_hash: str, at: datetime) -> None:
        self._set(staff_id, at, password_hash=password_hash)

    def set_totp(self, staff_id: int, secret: str, at: datetime) -> None:
        self._set(staff_id, at, totp_secret=secret, totp_last_step=None)

    def lock(self, staff_id: int) -> None:
        s = t.staff
        self.conn.execute(select(s.c.id).where(s.c.id == staff_id).with_for_update())

    def clear_totp(self, staff_id: int, at: datetime) -> None:
        self._set(staff_id, at, totp_secret=None, totp_last_step=None)

    def use_totp_step(self, staff_id: int, step: int) -> bool:
        s = t.staff
        done = self.conn.execute(
            update(s)
            .where(s.c.id == staff_id)
            .where(or_(s.c.totp_last_step.is_(None), s.c.totp_last_step < step))
            .values(totp_last_step=step)
        )
        return done.rowcount == 1

    def add_key(
        self, staff_id: int, credential_id: bytes, public_key: bytes, sign_count: int, at: datetime
    ) -> None:
        try:
            with self.conn.begin_nested():
                self.conn.execute(
                    insert(t.staff_keys).values(
                        staff_id=staff_id,
                        credential_id=credential_id,
                        public_key=public_key,
                        sign_count=sign_count,
                        created_at=at,
                    )
                )
        except IntegrityError:
            raise Conflict.of("staff.webauthn_taken") from None

    def keys(self, staff_id: int) -> list[WebAuthnKey]:
        k = t.staff_keys
        rows = self.conn.execute(select(k).where(k.c.staff_id == staff_id).order_by(k.c.id))
        return [
            WebAuthnKey(r.id, r.staff_id, r.credential_id, r.public_key, r.sign_count) for r in rows
        ]

    def remove_key(self, staff_id: int, key_id: int) -> bool:
        k = t.staff_keys
        done = self.conn.execute(delete(k).where(k.c.id == key_id, k.c.staff_id == staff_id))
        return done.rowcount == 1

    def use_key(self, key_id: int, old_count: int, new_count: int, at: datetime) -> bool:
        k = t.staff_keys
        done = self.conn.execute(
            update(k)
            .where(k.c.id == key_id, k.c.sign_count == old_count)
            .values(sign_count=new_count, used_at=at)
        )
        return done.rowcount == 1

    def add_enrolment(
        self, token_hash: str, staff_id: int, *, now: datetime, expires_at: datetime
    ) -> None:
        self.conn.execute(
            insert(t.staff_enrolments).values(
                token_hash=token_hash, staff_id=staff_id, created_at=now, expires_at=expires_at
            )
        )

    def enrolment(self, token_hash: str, now: datetime) -> Enrolment | None:
        e = t.staff_enrolments
        row = self.conn.execute(
            select(e).where(e.c.token_hash == token_hash, e.c.used_at.is_(None))
        ).first()
        if row is None or row.expires_at <= now:
            return None
        return Enrolment(row.staff_id, row.expires_at, row.totp_secret, row.challenge)

    def offer(self, token_hash: str, totp_secret: str, challenge: bytes) -> None:
        e = t.staff_enrolments
        self.conn.execute(
            update(e)
            .where(e.c.token_hash == token_hash)
            .values(totp_secret=totp_secret, challenge=challenge)
        )

    def take_enrolment(self, token_hash: str, now: datetime) -> bool:
        e = t.staff_enrolments
        done = self.conn.execute(
            update(e)
            .where(e.c.token_hash == token_hash, e.c.used_at.is_(None), e.c.expires_at > now)
            .values(used_at=now, totp_secret=None, challenge=None)
        )
        return done.rowcount == 1

    def find_patrons(
        self,
        institutions: Sequence[str],
        *,
        name: str | None = None,
        email: str | None = None,
        phone_prefix: str | None = None,
        limit: int,
    ) -> list[Patron]:
        p = t.patrons
        query = select(p).where(p.c.institution.in_(list(institutions)))
        if name is not None:
            escaped = name.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            query = query.where(func.lower(p.c.name).like(f"%{escaped}%", escape="\\"))
        if email is not None:
            query = query.where(func.lower(p.c.email) == email.lower())
        if phone_prefix is not None:
            query = query.where(p.c.phone_masked.like(f"{phone_prefix}%"))
        rows = self.conn.execute(query.order_by(p.c.name, p.c.id).limit(limit))
        return [patron_from(r) for r in rows]

    def audit(
        self,
        *,
        institutions: Sequence[str] | None,
        actor: str | None = None,
        patron_id: int | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 100,
    ) -> list[StoredAuditEvent]:
        a = t.audit_events
        query = select(a).order_by(a.c.id.desc()).limit(limit)
        if institutions is not None:
            query = query.where(a.c.institution.in_(list(institutions)))
        if actor is not None:
            query = query.where(a.c.actor == actor)
        if patron_id is not None:
            query = query.where(a.c.patron_id == patron_id)
        if since is not None:
            query = query.where(a.c.at >= since)
        if until is not None:
            query = query.where(a.c.at < until)
        return [
            StoredAuditEvent(
                r.id,
                AuditEvent(
                    at=r.at,
                    action=r.action,
                    outcome=r.outcome,
                    actor=r.actor,
                    channel=r.channel,
                    source=r.source,
                    institution=r.institution,
                    patron_id=r.patron_id,
                    identifier=r.identifier,
                    detail=json.loads(r.detail),
                ),
            )
            for r in self.conn.execute(query)
        ]


def _session(row: Row[Any]) -> StaffSession:
    return StaffSession(
        id=row.id,
        staff_id=row.staff_id,
        stage=Stage(row.stage),
        started_at=row.started_at,
        last_seen_at=row.last_seen_at,
        verified_at=row.verified_at,
        revoked=row.revoked_at is not None,
        source=row.source,
    )


class SqlStaffSessions:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def create(
        self, token_hash: str, staff_id: int, stage: Stage, *, source: str, now: datetime
    ) -> StaffSession:
        s = t.staff_sessions
        new_id = self.conn.execute(
            insert(s)
            .values(
                token_hash=token_hash,
                staff_id=staff_id,
                stage=stage.value,
                source=source[:80],
                started_at=now,
                last_seen_at=now,
                verified_at=now if stage is Stage.FULL else None,
            )
            .returning(s.c.id)
        ).scalar_one()
        row = self.conn.execute(select(s).where(s.c.id == new_id)).one()
        return _session(row)

    def find(self, token_hash: str) -> StaffSession | None:
        s = t.staff_sessions
        row = self.conn.execute(select(s).where(s.c.token_hash == token_hash)).first()
        return _session(row) if row else None

    def touch(self, session_id: int, now: datetime) -> None:
        s = t.staff_sessions
        self.conn.execute(update(s).where(s.c.id == session_id).values(last_seen_at=now))

    def verified(self, session_id: int, now: datetime) -> None:
        s = t.staff_sessions
        self.conn.execute(update(s).where(s.c.id == session_id).values(verified_at=now))

    def set_challenge(self, session_id: int, challenge: bytes | None) -> None:
        s = t.staff_sessions
        self.conn.execute(update(s).where(s.c.id == session_id).values(challenge=challenge))

    def challenge(self, session_id: int) -> bytes | None:
        s = t.staff_sessions
        value = self.conn.execute(select(s.c.challenge).where(s.c.id == session_id)).scalar()
        return bytes(value) if value is not None else None

    def revoke(self, session_id: int, now: datetime) -> None:
        s = t.staff_sessions
        self.conn.execute(
            update(s).where(s.c.id == session_id, s.c.revoked_at.is_(None)).values(revoked_at=now)
        )

    def revoke_staff(self, staff_id: int, now: datetime) -> int:
        s = t.staff_sessions
        done = self.conn.execute(
            update(s)
            .where(s.c.staff_id == staff_id, s.c.revoked_at.is_(None))
            .values(revoked_at=now)
        )
        return int(done.rowcount)
