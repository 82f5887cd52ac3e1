"""Bulk provisioning from registry feeds: a batch per transaction, set-based SQL (P3)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, bindparam, insert, select, update

from patronauth.adapters.storage import tables as t
from patronauth.adapters.storage.repositories import credential_values, patron_values
from patronauth.domain.credentials import CredentialState
from patronauth.domain.identifiers import IdentifierStatus
from patronauth.services.interfaces import KnownBarcode, RegistryBatchResult, RegistryRow

_CHUNK = 900  # bound parameters per IN list, well inside every SQLite build's limit


def _chunks(values: Sequence[Any], size: int = _CHUNK) -> list[Sequence[Any]]:
    return [values[i : i + size] for i in range(0, len(values), size)]


class SqlRegistry:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def existing(self, barcodes: Sequence[str]) -> dict[str, KnownBarcode]:
        i, p = t.identifiers, t.patrons
        known: dict[str, KnownBarcode] = {}
        for chunk in _chunks(list(dict.fromkeys(barcodes))):
            query = (
                select(i.c.value, i.c.status, i.c.patron_id, p.c.uid, p.c.institution)
                .join(p, p.c.id == i.c.patron_id)
                .where(i.c.value.in_(chunk))
            )
            for row in self.conn.execute(query):
                known[row.value] = KnownBarcode(
                    patron_id=row.patron_id,
                    uid=row.uid,
                    institution=row.institution,
                    replaced=row.status != IdentifierStatus.CURRENT.value,
                )
        return known

    def upsert(self, rows: Sequence[RegistryRow]) -> RegistryBatchResult:
        new = [r for r in rows if r.patron_id is None]
        known = [r for r in rows if r.patron_id is not None]
        now = datetime.now(UTC)
        if new:
            self._insert(new, now)
        if known:
            self._update(known, now)
        return RegistryBatchResult(created=len(new), updated=len(known))

    def _insert(self, rows: Sequence[RegistryRow], now: datetime) -> None:
        values = [patron_values(r.patron) | {"created_at": now, "updated_at": now} for r in rows]
        returned = self.conn.execute(
            insert(t.patrons).returning(t.patrons.c.id, sort_by_parameter_order=True), values
        )
        ids = [row.id for row in returned]
        identifiers = [
            {
                "patron_id": patron_id,
                "kind": r.kind.value,
                "value": r.barcode,
                "lookup_key": r.lookup_key,
                "status": IdentifierStatus.CURRENT.value,
                "created_at": now,
            }
            for patron_id, r in zip(ids, rows, strict=True)
        ]
        self.conn.execute(insert(t.identifiers), identifiers)
        credentials = [
            credential_values(patron_id, c)
            for patron_id, r in zip(ids, rows, strict=True)
            for c in r.credentials
        ]
        if credentials:
            self.conn.execute(insert(t.credentials), credentials)

    def _update(self, rows: Sequence[RegistryRow], now: datetime) -> None:
        p, c = t.patrons, t.credentials
        patron_rows = [
            {"b_id": r.patron_id, "b_updated_at": now}
            | {f"b_{k}": v for k, v in patron_values(r.patron).items() if k != "uid"}
            for r in rows
        ]
        columns = [k for k in patron_values(rows[0].patron) if k != "uid"]
        statement = (
            update(p)
            .where(p.c.id == bindparam("b_id"))
            .values({k: bindparam(f"b_{k}") for k in [*columns, "updated_at"]})
        )
        self.conn.execute(statement, patron_rows)

        stored: dict[tuple[int, str], tuple[int, str, str | None]] = {}
        ids = [r.patron_id for r in rows]
        for chunk in _chunks(ids):
            query = select(c.c.id, c.c.patron_id, c.c.kind, c.c.state, c.c.default_digest).where(
                c.c.patron_id.in_(chunk)
            )
            for row in self.conn.execute(query):
                stored[(row.patron_id, row.kind)] = (row.id, row.state, row.default_digest)

        follow_default, digest_only, added = [], [], []
        for r in rows:
            assert r.patron_id is not None
            for credential in r.credentials:
                current = stored.get((r.patron_id, credential.kind.value))
                if current is None:
                    added.append(credential_values(r.patron_id, credential))
                    continue
                credential_id, state, digest = current
                if digest == credential.default_digest:
                    continue
                change = {"b_id": credential_id, "b_digest": credential.default_digest}
                if state == CredentialState.DEFAULT.value:
                    follow_default.append(change)
                else:
                    digest_only.append(change)
        if follow_default:
            self.conn.execute(
                update(c)
                .where(c.c.id == bindparam("b_id"))
                .values(
                    default_digest=bindparam("b_digest"),
                    secret_hash=bindparam("b_digest"),
                    version=c.c.version + 1,
                ),
                follow_default,
            )
        if digest_only:
            self.conn.execute(
                update(c)
                .where(c.c.id == bindparam("b_id"))
                .values(default_digest=bindparam("b_digest")),
                digest_only,
            )
        if added:
            self.conn.execute(insert(t.credentials), added)
