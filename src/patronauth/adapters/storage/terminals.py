"""Self-service terminals in SQL."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError

from patronauth.adapters.storage import tables as t
from patronauth.domain.credentials import Channel
from patronauth.domain.errors import Conflict
from patronauth.domain.terminals import Encoding, Terminal, TerminalOptions
from patronauth.services.interfaces import StoredTerminal


def _terminal(row: Row[Any]) -> Terminal:
    return Terminal(
        id=row.id,
        login=row.login,
        institution=row.institution,
        location=row.location,
        enabled=row.enabled,
        options=TerminalOptions(
            encoding=Encoding(row.encoding),
            crlf=row.crlf,
            allow_pinless=row.allow_pinless,
            wrong_pin_as_unknown=row.wrong_pin_as_unknown,
            channel=Channel(row.channel),
        ),
    )


def _options(options: TerminalOptions) -> dict[str, Any]:
    return {
        "encoding": options.encoding.value,
        "crlf": options.crlf,
        "allow_pinless": options.allow_pinless,
        "wrong_pin_as_unknown": options.wrong_pin_as_unknown,
        "channel": options.channel.value,
    }


# Built once: SQLAlchemy finds its compiled form without working out a cache key (the
# SIP2 server reads a terminal again every second of every connection).
_GET = select(t.terminals).where(t.terminals.c.login == bindparam("login"))


class SqlTerminals:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(
        self,
        login: str,
        institution: str,
        location: str,
        password_hash: str,
        options: TerminalOptions,
        *,
        created_by: str,
        at: datetime,
    ) -> Terminal:
        try:
            with self.conn.begin_nested():
                new_id = self.conn.execute(
                    insert(t.terminals)
                    .values(
                        login=login,
                        institution=institution,
                        location=location,
                        password_hash=password_hash,
                        enabled=True,
                        created_by=created_by[:80],
                        created_at=at,
                        updated_at=at,
                        **_options(options),
                    )
                    .returning(t.terminals.c.id)
                ).scalar_one()
        except IntegrityError:
            raise Conflict.of("terminal.login_taken") from None
        return Terminal(new_id, login, institution, location, True, options)

    def get(self, login: str) -> StoredTerminal | None:
        row = self.conn.execute(_GET, {"login": login}).first()
        return StoredTerminal(_terminal(row), row.password_hash) if row else None

    def all(self, institution: str | None = None) -> list[Terminal]:
        query = select(t.terminals).order_by(t.terminals.c.institution, t.terminals.c.login)
        if institution is not None:
            query = query.where(t.terminals.c.institution == institution)
        return [_terminal(row) for row in self.conn.execute(query)]

    def _update(self, login: str, at: datetime, **values: Any) -> None:
        self.conn.execute(
            update(t.terminals).where(t.terminals.c.login == login).values(updated_at=at, **values)
        )

    def set_enabled(self, login: str, enabled: bool, at: datetime) -> None:
        self._update(login, at, enabled=enabled)

    def set_options(self, login: str, options: TerminalOptions, at: datetime) -> None:
        self._update(login, at, **_options(options))

    def set_password_hash(self, login: str, password_hash: str, at: datetime) -> None:
        self._update(login, at, password_hash=password_hash)
