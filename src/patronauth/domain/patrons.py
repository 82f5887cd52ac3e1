"""Patrons, their identifiers and credentials as records the use cases work on."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

from patronauth.domain.credentials import CredentialKind, CredentialState
from patronauth.domain.identifiers import IdentifierKind, IdentifierStatus, IdType


class PatronStatus(StrEnum):
    PENDING_REGISTRATION = "pending_registration"  # R17, R25: cannot sign in yet
    ACTIVE = "active"
    EXPIRED = "expired"
    BARRED = "barred"


@dataclass(frozen=True)
class Patron:
    id: int
    uid: str  # random public id; also the salt of the patron's keyed digests
    institution: str
    category: str
    status: PatronStatus
    name: str | None
    email: str | None
    phone_masked: str | None
    phone_digest: str | None  # keyed digest of the digits (S9)
    id_type: IdType | None
    id_masked: str | None
    id_digest: str | None  # keyed digest of the compact ID number (S9)
    registered_on: date
    language: str


@dataclass(frozen=True)
class Identifier:
    id: int
    patron_id: int
    kind: IdentifierKind
    value: str  # the institution's normal form
    lookup_key: str  # the lockout key: compact, no leading zeros
    status: IdentifierStatus


@dataclass(frozen=True)
class Credential:
    id: int
    patron_id: int
    kind: CredentialKind
    state: CredentialState
    secret_hash: str
    default_digest: str | None  # keyed digest of the default, for resets (S9)
    policy_from: date | None  # the policy version the secret was chosen under
    set_at: datetime
    expires_at: datetime | None  # temporary secrets only (S5)
    consecutive_failures: int
    suspended_from: CredentialState | None
    version: int  # bumped on every change of the secret; guards concurrent changes
    temporary_used_at: datetime | None = None  # S5: a temporary secret opens one session


@dataclass(frozen=True)
class TemporarySecret:
    id: int
    patron_id: int
    kind: CredentialKind
    secret_hash: str
    expires_at: datetime
