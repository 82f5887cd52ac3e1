"""The library's services that sign patrons in through PatronAuth (R19): OpenID Connect
relying parties, CAS services and the e-resource proxy, registered as data.

A service (a "client") belongs to one institution and speaks one protocol. Its
addresses are checked here: redirect URIs are matched exactly, so they are kept as
given once they are well formed; a proxy is reached only from its allowed addresses.
The patron's standing a service may read (the `library` scope and CAS attributes) is
computed here too, from facts the use cases gather.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from urllib.parse import urlsplit

from patronauth.domain.errors import InvalidInput
from patronauth.domain.patrons import PatronStatus
from patronauth.domain.text import has_control_characters

NAME_MAX_LENGTH = 80
URI_MAX_LENGTH = 512
MAX_URIS = 10
CLIENT_ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{8,64}")


class SignOnProtocol(StrEnum):
    OIDC = "oidc"
    CAS = "cas"
    PROXY = "proxy"


@dataclass(frozen=True)
class Client:
    id: int
    client_id: str
    name: str
    protocol: SignOnProtocol
    institution: str
    redirect_uris: tuple[str, ...]  # OIDC redirect URIs, CAS service URLs
    logout_uris: tuple[str, ...]  # front-channel logout
    allow_from: tuple[str, ...]  # the proxy's addresses (networks), empty: none
    trusted: bool  # first-party: no consent page
    public: bool  # no secret: PKCE S256 is required
    enabled: bool
    created_at: datetime

    def allows_redirect(self, uri: str) -> bool:
        """Exact match, character for character (OAuth 2.0 Security BCP)."""
        return uri in self.redirect_uris


def client_name(raw: str) -> str:
    name = " ".join(unicodedata.normalize("NFC", raw).split())
    if (
        not name
        or len(name) > NAME_MAX_LENGTH
        or has_control_characters(raw)
        or any(ch in name for ch in "<>")
    ):
        raise InvalidInput.of("client.name_invalid", max=NAME_MAX_LENGTH)
    return name


def redirect_uri(raw: str) -> str:
    """An absolute https URI without a fragment (http only on loopback, for testing)."""
    if len(raw) > URI_MAX_LENGTH or has_control_characters(raw) or " " in raw:
        raise InvalidInput.of("client.uri_invalid", uri=raw[:80])
    try:
        parts = urlsplit(raw)
        host = parts.hostname or ""
    except ValueError:
        raise InvalidInput.of("client.uri_invalid", uri=raw[:80]) from None
    loopback = host in {"127.0.0.1", "localhost", "::1"}
    if (
        not host
        or parts.fragment
        or "#" in raw
        or parts.scheme not in {"https", "http"}
        or (parts.scheme == "http" and not loopback)
    ):
        raise InvalidInput.of("client.uri_invalid", uri=raw[:80])
    return raw


def redirect_uris(raws: Iterable[str]) -> tuple[str, ...]:
    found = tuple(dict.fromkeys(redirect_uri(r) for r in raws))
    if len(found) > MAX_URIS:
        raise InvalidInput.of("client.too_many_uris", max=MAX_URIS)
    return found


def networks(raws: Iterable[str]) -> tuple[str, ...]:
    """Addresses or networks (`192.0.2.10`, `2001:db8::/64`) in their normal form."""
    found = []
    for raw in raws:
        try:
            found.append(str(ipaddress.ip_network(raw.strip(), strict=False)))
        except ValueError:
            raise InvalidInput.of("client.network_invalid", network=raw[:64]) from None
    return tuple(dict.fromkeys(found))


def address_allowed(address: str, allowed: Sequence[str]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in ipaddress.ip_network(net) for net in allowed)


class StandingStatus(StrEnum):
    """The patron's standing as a service sees it, one word (the `library` scope)."""

    ACTIVE = "active"
    EXPIRED = "expired"
    BARRED = "barred"
    SUSPENDED = "suspended"
    BLOCKED = "blocked"
    PENDING_REGISTRATION = "pending-registration"


@dataclass(frozen=True)
class LibraryClaims:
    institution: str
    category: str
    status: StandingStatus
    fines_over_threshold: bool

    def as_claims(self) -> dict[str, object]:
        return {
            "institution": self.institution,
            "category": self.category,
            "status": self.status.value,
            "fines_over_threshold": self.fines_over_threshold,
        }


def standing_status(status: PatronStatus, *, suspended: bool, blocked: bool) -> StandingStatus:
    """The record's status first, then the credential's: a barred patron is `barred`
    even while a block runs; an active one whose card is blocked is `blocked`."""
    if status is PatronStatus.PENDING_REGISTRATION:
        return StandingStatus.PENDING_REGISTRATION
    if status is PatronStatus.BARRED:
        return StandingStatus.BARRED
    if status is PatronStatus.EXPIRED:
        return StandingStatus.EXPIRED
    if suspended:
        return StandingStatus.SUSPENDED
    if blocked:
        return StandingStatus.BLOCKED
    return StandingStatus.ACTIVE


# Scopes a relying party may ask for, and what each one releases.
SCOPES = ("openid", "profile", "email", "library")


def granted_scopes(requested: str) -> tuple[str, ...]:
    """The known scopes of a request, in a fixed order; unknown ones are dropped."""
    asked = set(requested.split())
    return tuple(s for s in SCOPES if s in asked)
