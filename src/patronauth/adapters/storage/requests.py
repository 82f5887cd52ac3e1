"""Patrons' recommendations and interlibrary-loan requests (PolyU) in SQL."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, insert, select, update

from patronauth.adapters.storage import tables as t
from patronauth.domain.circulation import PatronRequest, RequestKind, RequestStatus


def _request(row: Row[Any]) -> PatronRequest:
    return PatronRequest(
        id=row.id,
        patron_id=row.patron_id,
        kind=RequestKind(row.kind),
        title=row.title,
        author=row.author,
        note=row.note,
        status=RequestStatus(row.status),
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


class SqlPatronRequests:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add_request(
        self, patron_id: int, kind: RequestKind, text: Mapping[str, str], at: datetime
    ) -> PatronRequest:
        new_id = self.conn.execute(
            insert(t.patron_requests)
            .values(
                patron_id=patron_id,
                kind=kind.value,
                title=text["title"],
                author=text.get("author", ""),
                note=text.get("note", ""),
                status=RequestStatus.SUBMITTED.value,
                created_at=at,
                updated_at=at,
            )
            .returning(t.patron_requests.c.id)
        ).scalar_one()
        found = self.request(new_id)
        assert found is not None
        return found

    def requests_of(self, patron_id: int) -> list[PatronRequest]:
        r = t.patron_requests
        rows = self.conn.execute(
            select(r)
            .where(r.c.patron_id == patron_id)
            .order_by(r.c.created_at.desc(), r.c.id.desc())
        )
        return [_request(row) for row in rows]

    def request(self, request_id: int) -> PatronRequest | None:
        row = self.conn.execute(
            select(t.patron_requests).where(t.patron_requests.c.id == request_id)
        ).first()
        return _request(row) if row else None

    def set_request_status(self, request_id: int, status: RequestStatus, at: datetime) -> None:
        self.conn.execute(
            update(t.patron_requests)
            .where(t.patron_requests.c.id == request_id)
            .values(status=status.value, updated_at=at)
        )
