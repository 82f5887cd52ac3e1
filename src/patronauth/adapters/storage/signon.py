"""The library's services, their codes, tokens, tickets and visits in SQL."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from patronauth.adapters.storage import tables as t
from patronauth.domain.errors import Conflict
from patronauth.domain.signon import Client, SignOnProtocol
from patronauth.services.interfaces import (
    AuthorizationCode,
    CasTicket,
    IssuedToken,
    NewClient,
    StoredClient,
)

C = t.sign_on_clients.c


def _lines(values: tuple[str, ...]) -> str:
    return "\n".join(values)


def _split(text: str) -> tuple[str, ...]:
    return tuple(line for line in text.split("\n") if line)


def _client(row: Row[Any]) -> Client:
    return Client(
        id=row.id,
        client_id=row.client_id,
        name=row.name,
        protocol=SignOnProtocol(row.protocol),
        institution=row.institution,
        redirect_uris=_split(row.redirect_uris),
        logout_uris=_split(row.logout_uris),
        allow_from=_split(row.allow_from),
        trusted=row.trusted,
        public=row.public,
        enabled=row.enabled,
        created_at=row.created_at,
    )


def _code(row: Row[Any]) -> AuthorizationCode:
    return AuthorizationCode(
        id=row.id,
        client_id=row.client_id,
        patron_id=row.patron_id,
        redirect_uri=row.redirect_uri,
        scope=row.scope,
        nonce=row.nonce,
        code_challenge=row.code_challenge,
        code_challenge_method=row.code_challenge_method,
        session_id=row.session_id,
        auth_time=row.auth_time,
        expires_at=row.expires_at,
        used_at=row.used_at,
    )


def _ticket(row: Row[Any]) -> CasTicket:
    return CasTicket(
        id=row.id,
        client_id=row.client_id,
        service=row.service,
        patron_id=row.patron_id,
        renewed=row.renewed,
        expires_at=row.expires_at,
        used_at=row.used_at,
    )


class SqlSignOn:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    # --- clients --------------------------------------------------------------------

    def add_client(self, new: NewClient, *, created_by: str, at: datetime) -> Client:
        try:
            with self.conn.begin_nested():
                self.conn.execute(
                    insert(t.sign_on_clients).values(
                        client_id=new.client_id,
                        name=new.name,
                        protocol=new.protocol.value,
                        institution=new.institution,
                        secret_digest=new.secret_digest,
                        redirect_uris=_lines(new.redirect_uris),
                        logout_uris=_lines(new.logout_uris),
                        allow_from=_lines(new.allow_from),
                        trusted=new.trusted,
                        public=new.public,
                        enabled=True,
                        created_by=created_by[:80],
                        created_at=at,
                        updated_at=at,
                    )
                )
        except IntegrityError:
            raise Conflict.of("client.id_taken") from None
        stored = self.client(new.client_id)
        assert stored is not None
        return stored.client

    def client(self, client_id: str) -> StoredClient | None:
        row = self.conn.execute(select(t.sign_on_clients).where(C.client_id == client_id)).first()
        return StoredClient(_client(row), row.secret_digest) if row else None

    def clients(self, institution: str | None = None) -> list[Client]:
        query = select(t.sign_on_clients).order_by(C.institution, C.name, C.client_id)
        if institution is not None:
            query = query.where(C.institution == institution)
        return [_client(row) for row in self.conn.execute(query)]

    def set_client_enabled(self, client_id: str, enabled: bool, at: datetime) -> None:
        self.conn.execute(
            update(t.sign_on_clients)
            .where(C.client_id == client_id)
            .values(enabled=enabled, updated_at=at)
        )

    def set_client_secret(self, client_id: str, secret_digest: str, at: datetime) -> None:
        self.conn.execute(
            update(t.sign_on_clients)
            .where(C.client_id == client_id)
            .values(secret_digest=secret_digest, updated_at=at)
        )

    # --- OpenID Connect codes and tokens ------------------------------------------------

    def add_code(self, code_hash: str, code: AuthorizationCode) -> None:
        self.conn.execute(
            insert(t.sign_on_codes).values(
                code_hash=code_hash,
                client_id=code.client_id,
                patron_id=code.patron_id,
                redirect_uri=code.redirect_uri,
                scope=code.scope,
                nonce=code.nonce,
                code_challenge=code.code_challenge,
                code_challenge_method=code.code_challenge_method,
                session_id=code.session_id,
                auth_time=code.auth_time,
                created_at=code.auth_time,
                expires_at=code.expires_at,
            )
        )

    def take_code(self, code_hash: str, now: datetime) -> tuple[AuthorizationCode, bool] | None:
        codes = t.sign_on_codes
        # Marked used and read in one statement; a code used already is read alone.
        row = self.conn.execute(
            update(codes)
            .where(codes.c.code_hash == code_hash, codes.c.used_at.is_(None))
            .values(used_at=now)
            .returning(*codes.c)
        ).first()
        if row is not None:
            return _code(row), True
        row = self.conn.execute(select(codes).where(codes.c.code_hash == code_hash)).first()
        return (_code(row), False) if row else None

    def add_tokens(
        self,
        tokens: Sequence[tuple[str, str, datetime]],
        *,
        client_id: str,
        patron_id: int,
        scope: str,
        code_id: int | None,
        session_id: int | None,
        now: datetime,
    ) -> None:
        if not tokens:
            return
        self.conn.execute(
            insert(t.sign_on_tokens).values(
                [
                    {
                        "token_hash": token_hash,
                        "kind": kind,
                        "client_id": client_id,
                        "patron_id": patron_id,
                        "scope": scope,
                        "code_id": code_id,
                        "session_id": session_id,
                        "created_at": now,
                        "expires_at": expires_at,
                    }
                    for token_hash, kind, expires_at in tokens
                ]
            )
        )

    def token(self, token_hash: str) -> IssuedToken | None:
        tokens = t.sign_on_tokens
        row = self.conn.execute(select(tokens).where(tokens.c.token_hash == token_hash)).first()
        if row is None:
            return None
        return IssuedToken(
            id=row.id,
            kind=row.kind,
            client_id=row.client_id,
            patron_id=row.patron_id,
            scope=row.scope,
            code_id=row.code_id,
            session_id=row.session_id,
            created_at=row.created_at,
            expires_at=row.expires_at,
            revoked=row.revoked_at is not None,
        )

    def revoke_token(self, token_id: int, now: datetime) -> bool:
        tokens = t.sign_on_tokens
        done = self.conn.execute(
            update(tokens)
            .where(tokens.c.id == token_id, tokens.c.revoked_at.is_(None))
            .values(revoked_at=now)
        ).rowcount
        return bool(done == 1)

    def revoke_tokens_of_code(self, code_id: int, now: datetime) -> int:
        tokens = t.sign_on_tokens
        return int(
            self.conn.execute(
                update(tokens)
                .where(tokens.c.code_id == code_id, tokens.c.revoked_at.is_(None))
                .values(revoked_at=now)
            ).rowcount
        )

    def revoke_tokens_of_session(self, session_id: int, now: datetime) -> int:
        tokens = t.sign_on_tokens
        return int(
            self.conn.execute(
                update(tokens)
                .where(tokens.c.session_id == session_id, tokens.c.revoked_at.is_(None))
                .values(revoked_at=now)
            ).rowcount
        )

    # --- visits -------------------------------------------------------------------------

    def add_visit(
        self, patron_id: int, client_id: str, session_id: int | None, at: datetime
    ) -> None:
        self.conn.execute(
            insert(t.sign_on_visits).values(
                patron_id=patron_id, client_id=client_id, session_id=session_id, at=at
            )
        )

    def clients_of_session(self, session_id: int) -> list[Client]:
        v = t.sign_on_visits.c
        ids = select(v.client_id).where(v.session_id == session_id).distinct()
        query = select(t.sign_on_clients).where(C.client_id.in_(ids)).order_by(C.name)
        return [_client(row) for row in self.conn.execute(query)]

    def visited(self, patron_id: int, *, limit: int) -> list[tuple[Client, datetime]]:
        v = t.sign_on_visits.c
        latest = (
            select(v.client_id, func.max(v.at).label("last"))
            .where(v.patron_id == patron_id)
            .group_by(v.client_id)
            .subquery()
        )
        query = (
            select(t.sign_on_clients, latest.c.last)
            .join(latest, latest.c.client_id == C.client_id)
            .order_by(latest.c.last.desc())
            .limit(limit)
        )
        found = []
        for row in self.conn.execute(query):
            last = t.UTCDateTime().process_result_value(row.last, self.conn.dialect)
            assert last is not None
            found.append((_client(row), last))
        return found

    # --- CAS tickets ----------------------------------------------------------------------

    def add_ticket(self, ticket_hash: str, ticket: CasTicket, *, now: datetime) -> None:
        self.conn.execute(
            insert(t.cas_tickets).values(
                ticket_hash=ticket_hash,
                client_id=ticket.client_id,
                service=ticket.service,
                patron_id=ticket.patron_id,
                renewed=ticket.renewed,
                created_at=now,
                expires_at=ticket.expires_at,
            )
        )

    def take_ticket(self, ticket_hash: str, now: datetime) -> tuple[CasTicket, bool] | None:
        tickets = t.cas_tickets
        first = self.conn.execute(
            update(tickets)
            .where(tickets.c.ticket_hash == ticket_hash, tickets.c.used_at.is_(None))
            .values(used_at=now)
        ).rowcount
        row = self.conn.execute(select(tickets).where(tickets.c.ticket_hash == ticket_hash)).first()
        return (_ticket(row), first == 1) if row else None
