"""Sign-on for the library's services (R19): the services as data, and what every
protocol shares: the one sign-in, the patron's standing, visits and their audit.

The protocol front ends (OpenID Connect, CAS, the proxy check) parse and render; the
decisions are here. A client secret is a random 128-bit token, so it is kept as a
keyed digest under the pepper (the hashing port), which costs no argon2 per call.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from patronauth.domain.credentials import Channel, Outcome
from patronauth.domain.errors import InvalidInput, NotFound, Refused
from patronauth.domain.identifiers import lockout_key
from patronauth.domain.patrons import Patron, PatronStatus
from patronauth.domain.signon import (
    CLIENT_ID_PATTERN,
    Client,
    LibraryClaims,
    SignOnProtocol,
    address_allowed,
    client_name,
    networks,
    redirect_uris,
    standing_status,
)
from patronauth.services.audit import given_reason, staff_detail
from patronauth.services.authenticate import Attempt
from patronauth.services.interfaces import (
    AuditEvent,
    AuthorizationCode,
    CasTicket,
    IssuedToken,
    NewClient,
    Ports,
    StoredClient,
    UnitOfWork,
)
from patronauth.services.lending import library_today, standing_in
from patronauth.services.signin import sign_in

CLIENT_ID_ALPHABET = "abcdefghijkmnpqrstuvwxyz23456789"
CLIENT_ID_LENGTH = 20
CAS_TICKET_SECONDS = 10


def token_hash(value: str) -> str:
    """Codes, tokens and tickets are random: a plain SHA-256 is their stored form."""
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


# --- services as data ---------------------------------------------------------------


@dataclass(frozen=True)
class AddedClient:
    client: Client
    secret: str | None  # shown once, never stored


def _secret_digest(ports: Ports, client_id: str, secret: str) -> str:
    return ports.hasher.keyed(secret, salt=f"client-{client_id}")


def _audit_staff(
    uow: UnitOfWork, ports: Ports, action: str, client: Client, staff: str, reason: str | None
) -> None:
    _audit(
        uow,
        ports,
        action,
        actor=staff,
        channel="staff",
        institution=client.institution,
        detail={
            "client_id": client.client_id,
            "service": client.name,
            **staff_detail(staff, reason),
        },
    )


def _audit(
    uow: UnitOfWork,
    ports: Ports,
    action: str,
    *,
    actor: str,
    channel: str,
    outcome: str = "ok",
    institution: str | None = None,
    patron_id: int | None = None,
    source: str = "",
    detail: dict[str, str] | None = None,
) -> None:
    uow.audit.record(
        AuditEvent(
            at=ports.clock.now(),
            action=action,
            outcome=outcome,
            actor=actor,
            channel=channel,
            source=source[:80],
            institution=institution,
            patron_id=patron_id,
            detail=detail or {},
        )
    )


def add_client(
    ports: Ports,
    *,
    name: str,
    protocol: SignOnProtocol,
    institution: str,
    redirect_uri: tuple[str, ...] = (),
    logout_uri: tuple[str, ...] = (),
    allow_from: tuple[str, ...] = (),
    trusted: bool = False,
    public: bool = False,
    staff: str,
    reason: str | None = None,
) -> AddedClient:
    """Register a service. OpenID Connect clients need a redirect URI, CAS services a
    service URL, proxies the addresses they call from. A public client (an app in
    the browser) has no secret and must use PKCE; CAS services have none either."""
    why = given_reason(reason)
    ports.profiles.get(institution)
    name = client_name(name)
    uris = redirect_uris(redirect_uri)
    logout = redirect_uris(logout_uri)
    allowed = networks(allow_from)
    if protocol in {SignOnProtocol.OIDC, SignOnProtocol.CAS} and not uris:
        raise InvalidInput.of("client.redirect_uri_missing")
    if protocol is SignOnProtocol.PROXY:
        if not allowed:
            raise InvalidInput.of("client.allow_from_missing")
        if public:
            raise InvalidInput.of("client.proxy_public")
    client_id = ports.randomness.secret(CLIENT_ID_ALPHABET, CLIENT_ID_LENGTH)
    secret = None if public or protocol is SignOnProtocol.CAS else ports.randomness.token()
    new = NewClient(
        client_id=client_id,
        name=name,
        protocol=protocol,
        institution=institution,
        secret_digest=_secret_digest(ports, client_id, secret) if secret else None,
        redirect_uris=uris,
        logout_uris=logout,
        allow_from=allowed,
        trusted=trusted,
        public=public or protocol is SignOnProtocol.CAS,
    )
    with ports.uow() as uow:
        client = uow.sign_on.add_client(new, created_by=staff, at=ports.clock.now())
        _audit(
            uow,
            ports,
            "client.add",
            actor=staff,
            channel="staff",
            institution=institution,
            detail={
                "client_id": client_id,
                "service": name,
                "protocol": protocol.value,
                **staff_detail(staff, why),
            },
        )
        uow.commit()
    return AddedClient(client, secret)


def list_clients(ports: Ports, institution: str | None = None) -> list[Client]:
    if institution is not None:
        ports.profiles.get(institution)
    with ports.read() as uow:
        return uow.sign_on.clients(institution)


def get_client(ports: Ports, client_id: str) -> Client | None:
    """An enabled client, or None (unknown, malformed and disabled alike)."""
    found = find_client(ports, client_id)
    return found.client if found else None


def find_client(ports: Ports, client_id: str) -> StoredClient | None:
    """An enabled client with its secret's digest (`secret_matches`), or None."""
    if not CLIENT_ID_PATTERN.fullmatch(client_id or ""):
        return None
    with ports.read() as uow:
        stored = uow.sign_on.client(client_id)
    if stored is None or not stored.client.enabled:
        return None
    return stored


def _stored(uow: UnitOfWork, client_id: str) -> Client:
    stored = uow.sign_on.client(client_id) if CLIENT_ID_PATTERN.fullmatch(client_id) else None
    if stored is None:
        raise NotFound.of("client.not_found")
    return stored.client


def disable_client(
    ports: Ports, client_id: str, *, staff: str, reason: str | None = None
) -> Client:
    """The service can no longer sign anyone in; its tokens stop working at once."""
    why = given_reason(reason)
    with ports.uow() as uow:
        client = _stored(uow, client_id)
        if not client.enabled:
            raise Refused.of("client.already_disabled")
        uow.sign_on.set_client_enabled(client_id, False, ports.clock.now())
        _audit_staff(uow, ports, "client.disable", client, staff, why)
        uow.commit()
    return replace(client, enabled=False)


def rotate_client_secret(
    ports: Ports, client_id: str, *, staff: str, reason: str | None = None
) -> AddedClient:
    """A new secret, shown once; the old one stops working at once."""
    why = given_reason(reason)
    with ports.uow() as uow:
        client = _stored(uow, client_id)
        if client.public:
            raise Refused.of("client.no_secret")
        secret = ports.randomness.token()
        digest = _secret_digest(ports, client_id, secret)
        uow.sign_on.set_client_secret(client_id, digest, ports.clock.now())
        _audit_staff(uow, ports, "client.rotate_secret", client, staff, why)
        uow.commit()
    return AddedClient(client, secret)


def secret_matches(ports: Ports, stored: StoredClient, secret: str) -> bool:
    """Constant time, against the digest read with the client in this request; a
    public client has no secret to match."""
    if not secret or len(secret) > 256 or stored.secret_digest is None:
        return False
    return ports.hasher.keyed_matches(stored.secret_digest, secret)


# --- the patron as services see them --------------------------------------------------


def patron_of(ports: Ports, patron_id: int) -> Patron:
    with ports.read() as uow:
        patron = uow.patrons.get(patron_id)
    if patron is None:
        raise NotFound.of("patron.not_found")
    return patron


def pairwise_subject(salt: bytes, client: Client, patron: Patron) -> str:
    """`sub`: stable for one patron at one service, unlinkable across services."""
    message = f"{client.client_id}\0{patron.uid}".encode()
    return hmac.new(salt, message, hashlib.sha256).hexdigest()


def library_claims(ports: Ports, patron: Patron) -> LibraryClaims:
    """What the `library` scope and the CAS attributes say of the patron today: its
    credentials, cards and lending standing read in one transaction."""
    profile = ports.profiles.get(patron.institution)
    today = library_today(ports, profile)
    with ports.read() as uow:
        credentials = uow.credentials.for_patron(patron.id)
        keys = [i.lookup_key for i in uow.patrons.identifiers(patron.id)]
        fines = standing_in(uow, patron, profile, today).blocked_by_fines
    now = ports.clock.now().timestamp()
    blocked = any(ports.counter.blocked_for(key, now) for key in keys)
    suspended = any(c.state.value == "suspended" for c in credentials)
    return LibraryClaims(
        institution=patron.institution,
        category=patron.category,
        status=standing_status(patron.status, suspended=suspended, blocked=blocked),
        fines_over_threshold=fines,
    )


def _visited(
    uow: UnitOfWork,
    ports: Ports,
    client: Client,
    patron: Patron,
    *,
    session_id: int | None,
    source: str,
) -> None:
    """Every sign-on to a service is audited with its name and listed in My Account,
    in the caller's unit of work (with what the sign-on issued: a code, a ticket)."""
    uow.sign_on.add_visit(patron.id, client.client_id, session_id, ports.clock.now())
    _audit(
        uow,
        ports,
        "sign_on",
        actor="patron",
        channel=client.protocol.value,
        institution=patron.institution,
        patron_id=patron.id,
        source=source,
        detail={"service": client.name, "client_id": client.client_id},
    )


@dataclass(frozen=True)
class Visit:
    service: str
    protocol: SignOnProtocol
    last: datetime


def services_visited(ports: Ports, patron_id: int, *, limit: int = 20) -> list[Visit]:
    """ "Services you signed in to", newest first."""
    with ports.read() as uow:
        found = uow.sign_on.visited(patron_id, limit=limit)
    return [Visit(client.name, client.protocol, last) for client, last in found]


def end_sign_on(ports: Ports, session_id: int) -> list[Client]:
    """Sign-out: the tokens given out under the session end; the services that have a
    front-channel logout URI are returned, to be told."""
    with ports.uow() as uow:
        uow.sign_on.revoke_tokens_of_session(session_id, ports.clock.now())
        clients = uow.sign_on.clients_of_session(session_id)
        uow.commit()
    return [c for c in clients if c.logout_uris and c.enabled]


# --- the e-resource proxy's external check ------------------------------------------------


@dataclass(frozen=True)
class ProxyAnswer:
    """`valid` with the patron's category as the group, or why not (one word)."""

    outcome: str  # valid, invalid, blocked, expired, barred, suspended, pending, change
    group: str | None = None
    retry_after: int = 0


_PROXY_REFUSALS = {
    Outcome.INVALID: "invalid",
    Outcome.BLOCKED: "blocked",
    Outcome.THROTTLED: "blocked",
    Outcome.SUSPENDED: "suspended",
    Outcome.PENDING_REGISTRATION: "pending",
    Outcome.BARRED: "barred",
    Outcome.CHANGE_REQUIRED: "change",
    Outcome.TEMPORARY_EXPIRED: "change",
    Outcome.MUST_CHANGE: "change",
}


def proxy_client(ports: Ports, client_id: str, key: str, address: str) -> Client:
    """The proxy calling, when it is registered, enabled, calls from an allowed address
    and presents its shared secret; otherwise one refusal, whichever failed."""
    stored = find_client(ports, client_id)
    if (
        stored is None
        or stored.client.protocol is not SignOnProtocol.PROXY
        or not address_allowed(address, stored.client.allow_from)
        or not secret_matches(ports, stored, key)
    ):
        raise Refused.of("proxy.not_allowed")
    return stored.client


def proxy_check(
    ports: Ports, client: Client, identifier: str, secret: str, *, source: str
) -> ProxyAnswer:
    """A card number and secret from the proxy's own sign-in form, through the one
    sign-in (channel `proxy`): the same lockout and the same refusals as everywhere."""
    try:
        lockout_key(identifier)
    except InvalidInput:
        return ProxyAnswer("invalid")
    result = sign_in(
        ports,
        Attempt(identifier, secret, Channel.PROXY, source=source, institution=client.institution),
    ).result
    if not result.signed_in or result.outcome is Outcome.MUST_CHANGE:
        return ProxyAnswer(_PROXY_REFUSALS.get(result.outcome, "invalid"), None, result.retry_after)
    assert result.patron_id is not None
    patron = patron_of(ports, result.patron_id)
    if patron.status is PatronStatus.EXPIRED:
        return ProxyAnswer("expired")
    with ports.uow() as uow:
        _visited(uow, ports, client, patron, session_id=None, source=source)
        uow.commit()
    return ProxyAnswer("valid", patron.category)


# --- CAS service tickets ------------------------------------------------------------------


def cas_service_client(ports: Ports, service: str) -> Client | None:
    """The enabled CAS service whose registered service URL is exactly `service`."""
    with ports.read() as uow:
        clients = uow.sign_on.clients()
    for client in clients:
        if (
            client.enabled
            and client.protocol is SignOnProtocol.CAS
            and client.allows_redirect(service)
        ):
            return client
    return None


def issue_ticket(
    ports: Ports,
    client: Client,
    service: str,
    patron_id: int,
    *,
    renewed: bool,
    session_id: int | None,
    source: str,
) -> str:
    now = ports.clock.now()
    ticket = "ST-" + ports.randomness.token() + ports.randomness.token()
    with ports.uow() as uow:
        uow.sign_on.add_ticket(
            token_hash(ticket),
            CasTicket(
                id=0,
                client_id=client.client_id,
                service=service,
                patron_id=patron_id,
                renewed=renewed,
                expires_at=now + timedelta(seconds=CAS_TICKET_SECONDS),
                used_at=None,
            ),
            now=now,
        )
        patron = uow.patrons.get(patron_id)
        if patron is None:
            raise NotFound.of("patron.not_found")
        _visited(uow, ports, client, patron, session_id=session_id, source=source)
        uow.commit()
    return ticket


def validate_ticket(
    ports: Ports, ticket: str, service: str, *, renew: bool
) -> tuple[Patron, CasTicket]:
    """A service ticket, once, within 10 s, for the service it was issued to.

    Refuses with the CAS error codes: INVALID_TICKET (unknown, used, expired, or not
    from a fresh sign-in when `renew`), INVALID_SERVICE (another service)."""
    if not ticket.startswith("ST-") or len(ticket) > 256:
        raise Refused.of("cas.INVALID_TICKET")
    now = ports.clock.now()
    with ports.uow() as uow:
        taken = uow.sign_on.take_ticket(token_hash(ticket), now)
        uow.commit()
    if taken is None:
        raise Refused.of("cas.INVALID_TICKET")
    stored, first = taken
    if not first or stored.expires_at <= now:
        raise Refused.of("cas.INVALID_TICKET")
    if stored.service != service:
        raise Refused.of("cas.INVALID_SERVICE")
    if renew and not stored.renewed:
        raise Refused.of("cas.INVALID_TICKET")
    return patron_of(ports, stored.patron_id), stored


# --- OpenID Connect: codes, tokens and claims ------------------------------------------

CODE_SECONDS = 60


def issue_code(
    ports: Ports,
    code: str,
    stored: AuthorizationCode,
    client: Client,
    patron: Patron,
    *,
    source: str,
) -> None:
    """The authorization code and the sign-on it completes (audited and listed in My
    Account), in one transaction."""
    with ports.uow() as uow:
        uow.sign_on.add_code(token_hash(code), stored)
        _visited(uow, ports, client, patron, session_id=stored.session_id, source=source)
        uow.commit()


def redeem_code(ports: Ports, code: str, client_id: str) -> AuthorizationCode | None:
    """The code, once, unexpired, for its own client. A code presented again is
    refused and every token issued from it is revoked (RFC 6749 4.1.2)."""
    if not code or len(code) > 256:
        return None
    now = ports.clock.now()
    with ports.uow() as uow:
        taken = uow.sign_on.take_code(token_hash(code), now)
        if taken is not None and not taken[1]:
            uow.sign_on.revoke_tokens_of_code(taken[0].id, now)
        uow.commit()
    if taken is None:
        return None
    stored, first = taken
    if not first or stored.expires_at <= now or stored.client_id != client_id:
        return None
    return stored


def save_tokens(
    ports: Ports,
    client: Client,
    patron_id: int,
    scope: str,
    *,
    access: str,
    refresh: str | None,
    expires_in: int,
    code_id: int | None,
    session_id: int | None,
) -> None:
    now = ports.clock.now()
    tokens = [
        (token_hash(value), kind, now + timedelta(seconds=seconds))
        for kind, value, seconds in (
            ("access", access, expires_in),
            ("refresh", refresh, REFRESH_SECONDS),
        )
        if value is not None
    ]
    with ports.uow() as uow:
        uow.sign_on.add_tokens(
            tokens,
            client_id=client.client_id,
            patron_id=patron_id,
            scope=scope,
            code_id=code_id,
            session_id=session_id,
            now=now,
        )
        uow.commit()


REFRESH_SECONDS = 30 * 24 * 3600


def live_token(ports: Ports, value: str, kind: str) -> IssuedToken | None:
    """A token of `kind` that is neither revoked nor expired, of an enabled client."""
    if not value or len(value) > 256:
        return None
    with ports.read() as uow:
        found = uow.sign_on.token(token_hash(value))
        stored = uow.sign_on.client(found.client_id) if found else None
        credentials = uow.credentials.for_patron(found.patron_id) if found else []
    # A change or reset of any of the patron's secrets ends what services were given.
    changed = any(found is not None and c.set_at > found.created_at for c in credentials)
    if (
        changed
        or found is None
        or found.kind != kind
        or found.revoked
        or found.expires_at <= ports.clock.now()
        or stored is None
        or not stored.client.enabled
    ):
        return None
    return found


def revoke_token(ports: Ports, token: IssuedToken) -> bool:
    with ports.uow() as uow:
        done = uow.sign_on.revoke_token(token.id, ports.clock.now())
        uow.commit()
    return done


def user_claims(
    ports: Ports, salt: bytes, client: Client, patron: Patron, scope: str
) -> dict[str, object]:
    """What a relying party learns, by scope: `sub` always (pairwise), `name` with
    `profile`, `email` with `email`, the patron's standing with `library`."""
    scopes = set(scope.split())
    claims: dict[str, object] = {"sub": pairwise_subject(salt, client, patron)}
    if "profile" in scopes and patron.name:
        claims["name"] = patron.name
    if "email" in scopes and patron.email:
        claims["email"] = patron.email
    if "library" in scopes:
        claims["library"] = library_claims(ports, patron).as_claims()
    return claims
