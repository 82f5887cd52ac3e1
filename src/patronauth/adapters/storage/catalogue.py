"""Titles and their copies in SQL; a title's row is the lock of its lending decisions."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Row, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from patronauth.adapters.storage import tables as t
from patronauth.domain.circulation import Item, ItemStatus, Title
from patronauth.domain.errors import Conflict


def _title(row: Row[Any]) -> Title:
    return Title(row.id, row.institution, row.title, row.author, row.isbn)


def _item(row: Row[Any]) -> Item:
    return Item(
        row.id, row.title_id, row.institution, row.barcode, row.home_library, ItemStatus(row.status)
    )


class SqlCatalogue:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self._postgres = conn.dialect.name == "postgresql"

    def lock_title(self, title_id: int) -> None:
        # SQLite's BEGIN IMMEDIATE already serialises every writing transaction.
        if self._postgres:
            self.conn.execute(
                select(t.titles.c.id).where(t.titles.c.id == title_id).with_for_update()
            )

    def lock_titles(self, title_ids: Sequence[int]) -> None:
        # One statement; PostgreSQL locks the rows in the order it returns them.
        if self._postgres and title_ids:
            ti = t.titles
            self.conn.execute(
                select(ti.c.id)
                .where(ti.c.id.in_(sorted(set(title_ids))))
                .order_by(ti.c.id)
                .with_for_update()
            )

    def add_title(self, institution: str, title: str, author: str, isbn: str | None) -> Title:
        new_id = self.conn.execute(
            insert(t.titles)
            .values(
                institution=institution,
                title=title,
                author=author,
                isbn=isbn,
                created_at=datetime.now(UTC),
            )
            .returning(t.titles.c.id)
        ).scalar_one()
        return Title(new_id, institution, title, author, isbn)

    def find_title(
        self, institution: str, title: str, author: str, isbn: str | None
    ) -> Title | None:
        ti = t.titles
        query = select(ti).where(ti.c.institution == institution)
        if isbn:
            query = query.where(ti.c.isbn == isbn)
        else:
            query = query.where(ti.c.title == title, ti.c.author == author)
        row = self.conn.execute(query.order_by(ti.c.id).limit(1)).first()
        return _title(row) if row else None

    def title(self, title_id: int) -> Title | None:
        row = self.conn.execute(select(t.titles).where(t.titles.c.id == title_id)).first()
        return _title(row) if row else None

    def search_titles(self, institution: str, text: str, *, limit: int) -> list[Title]:
        ti = t.titles
        pattern = (
            "%" + text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        )
        rows = self.conn.execute(
            select(ti)
            .where(
                ti.c.institution == institution,
                (func.lower(ti.c.title).like(pattern, escape="\\"))
                | (func.lower(ti.c.author).like(pattern, escape="\\")),
            )
            .order_by(ti.c.title, ti.c.id)
            .limit(limit)
        )
        return [_title(row) for row in rows]

    def add_item(self, title_id: int, institution: str, barcode: str, home_library: str) -> Item:
        try:
            with self.conn.begin_nested():
                new_id = self.conn.execute(
                    insert(t.items)
                    .values(
                        title_id=title_id,
                        institution=institution,
                        barcode=barcode,
                        home_library=home_library,
                        status=ItemStatus.AVAILABLE.value,
                        created_at=datetime.now(UTC),
                    )
                    .returning(t.items.c.id)
                ).scalar_one()
        except IntegrityError:
            raise Conflict.of("item.taken") from None
        return Item(new_id, title_id, institution, barcode, home_library, ItemStatus.AVAILABLE)

    def item(self, item_id: int) -> Item | None:
        row = self.conn.execute(select(t.items).where(t.items.c.id == item_id)).first()
        return _item(row) if row else None

    def item_by_barcode(self, institution: str, barcode: str) -> Item | None:
        it = t.items
        row = self.conn.execute(
            select(it).where(it.c.institution == institution, it.c.barcode == barcode)
        ).first()
        return _item(row) if row else None

    def items_of_title(self, title_id: int) -> list[Item]:
        it = t.items
        return [
            _item(r)
            for r in self.conn.execute(
                select(it).where(it.c.title_id == title_id).order_by(it.c.id)
            )
        ]

    def set_item_status(self, item_id: int, status: ItemStatus) -> None:
        self.conn.execute(
            update(t.items).where(t.items.c.id == item_id).values(status=status.value)
        )
