from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any

import psycopg
from psycopg.pq import TransactionStatus
from sqlalchemy import Connection, Row, bindparam, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from patronauth.adapters.storage import tables as t
from patronauth.domain.credentials import CredentialKind, CredentialState
from patronauth.domain.errors import Conflict
from patronauth.domain.identifiers import IdentifierKind, IdentifierStatus, IdType
from patronauth.domain.patrons import Credential, Identifier, Patron, PatronStatus, TemporarySecret
from patronauth.domain.profile import ForcedChange
from patronauth.services.interfaces import (
    AuditEvent,
    CardHolder,
    NewCredential,
    NewPatron,
    StoredAuditEvent,
)


def _utcnow() -> datetime:
    return datetime.now(UTC)


def patron_from(row: Row[Any]) -> Patron:
    m = row._mapping
    return Patron(
        id=m["id"],
        uid=m["uid"],
        institution=m["institution"],
        category=m["category"],
        status=PatronStatus(m["status"]),
        name=m["name"],
        email=m["email"],
        phone_masked=m["phone_masked"],
        phone_digest=m["phone_digest"],
        id_type=IdType(m["id_type"]) if m["id_type"] else None,
        id_masked=m["id_masked"],
        id_digest=m["id_digest"],
        registered_on=m["registered_on"],
        language=m["language"],
    )


def identifier_from(row: Row[Any], prefix: str = "") -> Identifier:
    m = row._mapping
    return Identifier(
        id=m[prefix + "id"],
        patron_id=m[prefix + "patron_id"],
        kind=IdentifierKind(m[prefix + "kind"]),
        value=m[prefix + "value"],
        lookup_key=m[prefix + "lookup_key"],
        status=IdentifierStatus(m[prefix + "status"]),
    )


def credential_from(row: Row[Any], prefix: str = "") -> Credential:
    m = row._mapping
    suspended_from = m[prefix + "suspended_from"]
    return Credential(
        id=m[prefix + "id"],
        patron_id=m[prefix + "patron_id"],
        kind=CredentialKind(m[prefix + "kind"]),
        state=CredentialState(m[prefix + "state"]),
        secret_hash=m[prefix + "secret_hash"],
        default_digest=m[prefix + "default_digest"],
        policy_from=m[prefix + "policy_from"],
        set_at=m[prefix + "set_at"],
        expires_at=m[prefix + "expires_at"],
        consecutive_failures=m[prefix + "consecutive_failures"],
        suspended_from=CredentialState(suspended_from) if suspended_from else None,
        version=m[prefix + "version"],
        temporary_used_at=m[prefix + "temporary_used_at"],
    )


def patron_values(patron: NewPatron) -> dict[str, Any]:
    return {
        "uid": patron.uid,
        "institution": patron.institution,
        "category": patron.category,
        "status": patron.status.value,
        "name": patron.name,
        "email": patron.email,
        "phone_masked": patron.phone_masked,
        "phone_digest": patron.phone_digest,
        "id_type": patron.id_type.value if patron.id_type else None,
        "id_masked": patron.id_masked,
        "id_digest": patron.id_digest,
        "registered_on": patron.registered_on,
        "language": patron.language,
    }


def credential_values(patron_id: int, credential: NewCredential) -> dict[str, Any]:
    return {
        "patron_id": patron_id,
        "kind": credential.kind.value,
        "state": credential.state.value,
        "secret_hash": credential.secret_hash,
        "default_digest": credential.default_digest,
        "policy_from": credential.policy_from,
        "set_at": credential.set_at,
        "expires_at": credential.expires_at,
        "consecutive_failures": 0,
        "suspended_from": None,
        "version": 1,
    }


# Statements of every sign-in, built once: constructing them costs more than running
# them on SQLite (P1).
PATRONS_WITH_CARDS = select(
    t.patrons,
    t.identifiers.c.id.label("i_id"),
    t.identifiers.c.patron_id.label("i_patron_id"),
    t.identifiers.c.kind.label("i_kind"),
    t.identifiers.c.value.label("i_value"),
    t.identifiers.c.lookup_key.label("i_lookup_key"),
    t.identifiers.c.status.label("i_status"),
).join(t.identifiers, t.identifiers.c.patron_id == t.patrons.c.id)
FIND_BY_KEY = PATRONS_WITH_CARDS.where(t.identifiers.c.lookup_key == bindparam("key"))
# A sign-in's card, the patron's credentials (two at most) and the count of the
# institution's forced changes, in one statement.
_CARD_HOLDERS = FIND_BY_KEY.add_columns(
    *(column.label(f"c_{column.name}") for column in t.credentials.c),
    select(func.count())
    .select_from(t.forced_changes)
    .where(t.forced_changes.c.institution == t.patrons.c.institution)
    .scalar_subquery()
    .label("forced_changes"),
).outerjoin(t.credentials, t.credentials.c.patron_id == t.patrons.c.id)
_CREDENTIAL = select(t.credentials).where(
    t.credentials.c.patron_id == bindparam("patron_id"), t.credentials.c.kind == bindparam("kind")
)
_AUDIT = insert(t.audit_events)
_FORCED = (
    select(t.forced_changes)
    .where(t.forced_changes.c.institution == bindparam("institution"))
    .order_by(t.forced_changes.c.id)
)


class SqlPatrons:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(self, patron: NewPatron) -> Patron:
        now = _utcnow()
        values = patron_values(patron) | {"created_at": now, "updated_at": now}
        new_id = self.conn.execute(
            insert(t.patrons).values(values).returning(t.patrons.c.id)
        ).scalar_one()
        found = self.get(new_id)
        assert found is not None
        return found

    def get(self, patron_id: int) -> Patron | None:
        row = self.conn.execute(select(t.patrons).where(t.patrons.c.id == patron_id)).first()
        return patron_from(row) if row else None

    def find(self, lookup_key: str) -> list[tuple[Patron, Identifier]]:
        rows = self.conn.execute(FIND_BY_KEY, {"key": lookup_key})
        return [(patron_from(row), identifier_from(row, "i_")) for row in rows]

    def card_holders(self, lookup_key: str) -> list[CardHolder]:
        found: dict[int, tuple[Row[Any], list[Credential]]] = {}
        for row in self.conn.execute(_CARD_HOLDERS, {"key": lookup_key}):
            _, held = found.setdefault(row.i_id, (row, []))
            if row.c_id is not None:
                held.append(credential_from(row, "c_"))
        return [
            CardHolder(
                patron_from(row), identifier_from(row, "i_"), tuple(held), row.forced_changes
            )
            for row, held in found.values()
        ]

    def identifiers(self, patron_id: int) -> list[Identifier]:
        query = (
            select(t.identifiers)
            .where(t.identifiers.c.patron_id == patron_id)
            .order_by(t.identifiers.c.id)
        )
        return [identifier_from(row) for row in self.conn.execute(query)]

    def add_identifier(
        self, patron_id: int, kind: IdentifierKind, value: str, lookup_key: str
    ) -> Identifier:
        taken = self.conn.execute(
            select(t.identifiers.c.id).where(t.identifiers.c.value == value)
        ).first()
        if taken:
            raise Conflict.of("identifier.taken")
        new_id = self.conn.execute(
            insert(t.identifiers)
            .values(
                patron_id=patron_id,
                kind=kind.value,
                value=value,
                lookup_key=lookup_key,
                status=IdentifierStatus.CURRENT.value,
                created_at=_utcnow(),
            )
            .returning(t.identifiers.c.id)
        ).scalar_one()
        return Identifier(new_id, patron_id, kind, value, lookup_key, IdentifierStatus.CURRENT)

    def replace_identifier(self, old: Identifier, value: str, lookup_key: str) -> Identifier:
        now = _utcnow()
        done = self.conn.execute(
            update(t.identifiers)
            .where(
                t.identifiers.c.id == old.id,
                t.identifiers.c.status == IdentifierStatus.CURRENT.value,
            )
            .values(status=IdentifierStatus.REPLACED.value, replaced_at=now)
        ).rowcount
        if done != 1:
            raise Conflict.of("card.not_current")
        return self.add_identifier(old.patron_id, old.kind, value, lookup_key)

    def with_email(self, email: str, *, limit: int) -> list[Patron]:
        p = t.patrons
        rows = self.conn.execute(
            select(p).where(p.c.email == email.lower()).order_by(p.c.id).limit(limit)
        )
        return [patron_from(row) for row in rows]

    def set_status(self, patron_id: int, status: PatronStatus) -> None:
        self.conn.execute(
            update(t.patrons)
            .where(t.patrons.c.id == patron_id)
            .values(status=status.value, updated_at=_utcnow())
        )


class SqlCredentials:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def get(self, patron_id: int, kind: CredentialKind) -> Credential | None:
        row = self.conn.execute(_CREDENTIAL, {"patron_id": patron_id, "kind": kind.value}).first()
        return credential_from(row) if row else None

    def for_patron(self, patron_id: int) -> list[Credential]:
        c = t.credentials
        rows = self.conn.execute(select(c).where(c.c.patron_id == patron_id).order_by(c.c.kind))
        return [credential_from(row) for row in rows]

    def add(self, patron_id: int, credential: NewCredential) -> Credential:
        try:
            self.conn.execute(
                insert(t.credentials).values(credential_values(patron_id, credential))
            )
        except IntegrityError:
            raise Conflict.of("credential.already_set_up") from None
        added = self.get(patron_id, credential.kind)
        assert added is not None
        return added

    def replace_secret(
        self,
        credential: Credential,
        *,
        secret_hash: str,
        state: CredentialState,
        policy_from: date | None,
        set_at: datetime,
        expires_at: datetime | None = None,
    ) -> bool:
        c = t.credentials
        done = self.conn.execute(
            update(c)
            .where(c.c.id == credential.id, c.c.version == credential.version)
            .values(
                secret_hash=secret_hash,
                state=state.value,
                policy_from=policy_from,
                set_at=set_at,
                expires_at=expires_at,
                consecutive_failures=0,
                suspended_from=None,
                version=c.c.version + 1,
                temporary_used_at=None,
            )
        ).rowcount
        return bool(done == 1)

    def use_temporary(self, credential: Credential, now: datetime) -> bool:
        c = t.credentials
        done = self.conn.execute(
            update(c)
            .where(
                c.c.id == credential.id,
                c.c.version == credential.version,
                c.c.temporary_used_at.is_(None),
            )
            .values(temporary_used_at=now)
        ).rowcount
        return bool(done == 1)

    def rehash(self, credential: Credential, secret_hash: str) -> bool:
        c = t.credentials
        done = self.conn.execute(
            update(c)
            .where(c.c.id == credential.id, c.c.version == credential.version)
            .values(secret_hash=secret_hash)
        ).rowcount
        return bool(done == 1)

    def record_failure(self, credential_id: int) -> int:
        c = t.credentials
        count = self.conn.execute(
            update(c)
            .where(c.c.id == credential_id)
            .values(consecutive_failures=c.c.consecutive_failures + 1)
            .returning(c.c.consecutive_failures)
        ).scalar_one()
        return int(count)

    def clear_failures(self, credential_id: int) -> None:
        c = t.credentials
        self.conn.execute(update(c).where(c.c.id == credential_id).values(consecutive_failures=0))

    def set_state(
        self,
        credential_id: int,
        state: CredentialState,
        suspended_from: CredentialState | None,
    ) -> None:
        c = t.credentials
        self.conn.execute(
            update(c)
            .where(c.c.id == credential_id)
            .values(
                state=state.value,
                suspended_from=suspended_from.value if suspended_from else None,
            )
        )


class SqlTemporaries:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(
        self, patron_id: int, kind: CredentialKind, secret_hash: str, expires_at: datetime
    ) -> None:
        self.conn.execute(
            insert(t.temporary_secrets).values(
                patron_id=patron_id,
                kind=kind.value,
                secret_hash=secret_hash,
                created_at=_utcnow(),
                expires_at=expires_at,
            )
        )

    def active(self, patron_id: int, kind: CredentialKind, now: datetime) -> list[TemporarySecret]:
        ts = t.temporary_secrets
        rows = self.conn.execute(
            select(ts).where(
                ts.c.patron_id == patron_id,
                ts.c.kind == kind.value,
                ts.c.used_at.is_(None),
                ts.c.voided_at.is_(None),
                ts.c.expires_at > now,
            )
        )
        return [
            TemporarySecret(
                id=r.id,
                patron_id=r.patron_id,
                kind=CredentialKind(r.kind),
                secret_hash=r.secret_hash,
                expires_at=r.expires_at,
            )
            for r in rows
        ]

    def mark_used(self, temporary_id: int, now: datetime) -> None:
        ts = t.temporary_secrets
        self.conn.execute(update(ts).where(ts.c.id == temporary_id).values(used_at=now))

    def void(self, patron_id: int, kind: CredentialKind, now: datetime) -> None:
        ts = t.temporary_secrets
        self.conn.execute(
            update(ts)
            .where(
                ts.c.patron_id == patron_id,
                ts.c.kind == kind.value,
                ts.c.used_at.is_(None),
                ts.c.voided_at.is_(None),
            )
            .values(voided_at=now)
        )


def _audit_row(event: AuditEvent) -> dict[str, object]:
    return {
        "at": event.at,
        "action": event.action,
        "outcome": event.outcome,
        "actor": event.actor,
        "channel": event.channel,
        "source": event.source,
        "institution": event.institution,
        "patron_id": event.patron_id,
        "identifier": event.identifier,
        "detail": json.dumps(dict(event.detail), sort_keys=True),
    }


class SqlAudit:
    def __init__(self, conn: Connection, pending: list[dict[str, Any]] | None = None) -> None:
        self.conn = conn
        self.pending = pending  # rows its unit of work writes when it commits; None: at once

    def record(self, event: AuditEvent) -> None:
        row = _audit_row(event)
        if self.pending is None:
            self.conn.execute(_AUDIT, row)
        else:
            self.pending.append(row)

    def write_pending(self) -> None:
        """The records kept for the commit. One record in a transaction that has sent
        nothing yet goes on its own, in autocommit, on PostgreSQL: one round trip where
        `BEGIN`, `INSERT` and `COMMIT` took three (P1)."""
        rows = self.pending or []
        if not rows:
            return
        self.pending = []
        driver = self.conn.connection.driver_connection
        lone = (
            len(rows) == 1
            and self.conn.dialect.name == "postgresql"
            and driver is not None
            and driver.info.transaction_status == TransactionStatus.IDLE
        )
        if not lone or driver is None:
            self.conn.execute(_AUDIT, rows)
            return
        driver.autocommit = True
        try:
            self.conn.execute(_AUDIT, rows[0])
        finally:
            try:
                driver.autocommit = False
            except psycopg.Error:
                self.conn.invalidate()  # never back to the pool in autocommit

    def record_counted(self, event: AuditEvent) -> int:
        detail = {**event.detail, "count": "1"}
        row = {**_audit_row(event), "detail": json.dumps(detail, sort_keys=True)}
        return int(self.conn.execute(_AUDIT.returning(t.audit_events.c.id), row).scalar_one())

    def set_count(self, audit_id: int, count: int) -> None:
        a = t.audit_events
        stored = self.conn.execute(select(a.c.detail).where(a.c.id == audit_id)).scalar_one()
        detail = {**json.loads(stored), "count": str(count)}
        self.conn.execute(
            update(a).where(a.c.id == audit_id).values(detail=json.dumps(detail, sort_keys=True))
        )

    def record_many(self, events: Sequence[AuditEvent]) -> None:
        if events:
            self.conn.execute(_AUDIT, [_audit_row(e) for e in events])

    def recent(
        self, *, patron_id: int | None = None, identifier: str | None = None, limit: int = 100
    ) -> list[StoredAuditEvent]:
        a = t.audit_events
        query = select(a).order_by(a.c.id.desc()).limit(limit)
        if patron_id is not None:
            query = query.where(a.c.patron_id == patron_id)
        if identifier is not None:
            query = query.where(a.c.identifier == identifier)
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


class SqlForcedChanges:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(self, institution: str, rule: ForcedChange, *, created_by: str, at: datetime) -> None:
        categories = json.dumps(sorted(rule.categories)) if rule.categories is not None else None
        self.conn.execute(
            insert(t.forced_changes).values(
                institution=institution,
                go_live=rule.go_live,
                categories=categories,
                created_by=created_by,
                created_at=at,
            )
        )

    def for_institution(self, institution: str) -> list[ForcedChange]:
        rows = self.conn.execute(_FORCED, {"institution": institution})
        return [
            ForcedChange(
                r.go_live,
                frozenset(json.loads(r.categories)) if r.categories is not None else None,
            )
            for r in rows
        ]
