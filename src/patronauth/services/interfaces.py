"""The ports the use cases work through. Docstrings live here; adapters stay bare.

Each port has one real adapter; where a deployment can do without a server,
`patronauth.bootstrap` picks a lighter twin from the settings (the table is in
docs/architecture.md, "Ports and their twins").
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from types import TracebackType
from typing import NamedTuple, Protocol

from patronauth.domain.circulation import (
    Closure,
    Fine,
    Hold,
    HoldStatus,
    Item,
    ItemStatus,
    Loan,
    PatronRequest,
    Payment,
    RequestKind,
    RequestStatus,
    StandingFacts,
    Title,
)
from patronauth.domain.credentials import CredentialKind, CredentialState
from patronauth.domain.errors import Unavailable
from patronauth.domain.identifiers import IdentifierKind, IdType
from patronauth.domain.lockout import Admission, LockoutRule
from patronauth.domain.patrons import (
    Credential,
    Identifier,
    Patron,
    PatronStatus,
    TemporarySecret,
)
from patronauth.domain.profile import DirectoryConfig, ForcedChange, Profile
from patronauth.domain.sessions import Scope, Session, SessionChannel, SessionPolicy
from patronauth.domain.signon import Client, SignOnProtocol
from patronauth.domain.staff import Role, StaffMember, StaffSession, StaffStatus, Stage
from patronauth.domain.terminals import Terminal, TerminalOptions


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware (UTC)."""


class Randomness(Protocol):
    def secret(self, alphabet: str, length: int) -> str:
        """A uniformly random string for temporary secrets."""

    def token(self) -> str:
        """An unguessable URL-safe token (at least 128 bits)."""


@dataclass(frozen=True)
class Verification:
    ok: bool
    rehashed: str | None = None  # a fresh hash to store when the old one is outdated


class KeyedDigests(Protocol):
    """Keyed digests under the current pepper key, and nothing else (S9). It can be
    pickled, so that worker processes digest the rows they check (P3)."""

    def keyed(self, value: str, *, salt: str) -> str:
        """The same digest as `SecretHasher.keyed`."""


class SecretHasher(Protocol):
    def hash(self, secret: str) -> str:
        """An argon2id hash of the peppered secret, recording parameters and key id."""

    def verify(self, stored: str, secret: str) -> Verification:
        """Check `secret` against a stored hash or keyed digest.

        Costs exactly one argon2 computation whatever `stored` is, so that timing
        says nothing about the kind of record. `rehashed` is set when the stored form
        is outdated (parameters, pepper key, or a keyed digest of a default).
        """

    def dummy_verify(self, secret: str) -> None:
        """Spend one argon2 computation for an unknown identifier (S4)."""

    def keyed(self, value: str, *, salt: str) -> str:
        """A fast keyed digest (HMAC under the pepper) for defaults and personal data (S9)."""

    def digester(self) -> KeyedDigests:
        """`keyed` alone, to hand to a worker process: it holds the current pepper key
        and no other (no old key, no argon2, no pool)."""

    def keyed_matches(self, stored: str, value: str) -> bool:
        """Whether `value` has the keyed digest `stored`; constant time, no argon2."""


class AttemptCounter(Protocol):
    """Counts attempts per identifier key, atomically across threads and processes."""

    def admit(self, key: str, now: float, rule: LockoutRule) -> Admission:
        """Reserve a place in the window or refuse (blocked); before any hashing."""

    def settle(
        self, key: str, ticket: float, *, success: bool, now: float, rule: LockoutRule
    ) -> None:
        """Record the outcome of an admitted attempt."""

    def blocked_for(self, key: str, now: float) -> int:
        """Seconds left of a block on `key`, 0 when none."""

    def blocked_for_each(self, keys: Collection[str], now: float) -> dict[str, int]:
        """`blocked_for` of each of `keys`, read together (one round trip where the
        store allows it): for many status requests at once."""

    def clear(self, key: str) -> None:
        """Lift any block and forget the failures of `key` (staff unlock)."""


class SessionRows(Protocol):
    """Sessions opened inside a unit of work, where the store is its database."""

    def create(
        self,
        token_hash: str,
        patron_id: int,
        channel: SessionChannel,
        scope: Scope,
        change_kind: CredentialKind | None,
        *,
        source: str,
        now: datetime,
    ) -> Session: ...

    def rescope(
        self, session_id: int, scope: Scope, change_kind: CredentialKind | None
    ) -> None: ...

    def revoke_patron(self, patron_id: int, now: datetime, *, keep: int | None = None) -> int:
        """End every session of a patron (but the row `keep`), in the unit's
        transaction; how many ended."""


class SessionStore(Protocol):
    """Server-side sessions and bearer tokens, found by the hash of their token (S7).

    `in_database`: the sessions are rows of the units of work's database, so a sign-in
    opens its session in the transaction of its outcome (`UnitOfWork.sessions`)."""

    in_database: bool

    def create(
        self,
        token_hash: str,
        patron_id: int,
        channel: SessionChannel,
        scope: Scope,
        change_kind: CredentialKind | None,
        *,
        source: str,
        now: datetime,
    ) -> Session: ...

    def find(self, token_hash: str) -> Session | None: ...

    def touch(self, session_id: int, now: datetime) -> None:
        """Record a use: the idle timeout counts from here."""

    def rescope(
        self, session_id: int, scope: Scope, change_kind: CredentialKind | None
    ) -> None: ...

    def revoke(self, session_id: int, now: datetime) -> None: ...

    def revoke_patron(self, patron_id: int, now: datetime, *, keep: int | None = None) -> int:
        """End every session of a patron (but `keep`); how many ended."""

    def row_id(self, session: Session) -> int | None:
        """The session's row in the units of work's database (`UnitOfWork.sessions`),
        or None where it is held elsewhere."""


class Throttle(Protocol):
    def hit(self, scope: str, source: str) -> int:
        """Count one attempt from `source`; 0 when allowed, else seconds to wait."""

    def hit_limit(self, limit: str, scope: str, key: str) -> int:
        """Count one use of `key` against a named limit (`"5 per hour"`); 0 when
        allowed, else seconds to wait."""


class NoticeKind(StrEnum):
    CREDENTIAL_CHANGED = "credential_changed"
    CREDENTIAL_RESET = "credential_reset"
    TEMPORARY_SECRET = "temporary_secret"  # noqa: S105 (a notice kind)
    TEMPORARY_SECRETS = "temporary_secrets"
    SETUP_LINK = "setup_link"
    SETUP_LINKS = "setup_links"
    RESET_LINK = "reset_link"
    RESET_LINKS = "reset_links"
    CHANGE_CODE = "change_code"


@dataclass(frozen=True)
class Notice:
    """A message to a patron; the notifier renders it in `language` and delivers it."""

    kind: NoticeKind
    to: str
    language: str
    institution: str
    params: Mapping[str, str] = field(default_factory=dict)


class Notifier(Protocol):
    def notify(self, notice: Notice) -> None:
        """Render and deliver (or queue) one notice; raises on a delivery failure."""


class Profiles(Protocol):
    def get(self, institution: str) -> Profile:
        """The profile of `institution`; refuses `institution.unknown`."""

    def all(self) -> Mapping[str, Profile]:
        """Every institution this deployment serves."""


Blocklists = Mapping[str, Callable[[str], bool]]


# What is stored of a new patron and a new credential, and a registry feed's row, are
# named tuples rather than frozen dataclasses: as immutable, and built several times
# faster, which a registry import does millions of times in its one writing process
# (P3).
class NewPatron(NamedTuple):
    uid: str
    institution: str
    category: str
    status: PatronStatus
    name: str | None
    email: str | None
    phone_masked: str | None
    phone_digest: str | None
    id_type: IdType | None
    id_masked: str | None
    id_digest: str | None
    registered_on: date
    language: str


class NewCredential(NamedTuple):
    kind: CredentialKind
    state: CredentialState
    secret_hash: str
    default_digest: str | None
    policy_from: date | None
    set_at: datetime
    expires_at: datetime | None = None


@dataclass(frozen=True)
class AuditEvent:
    at: datetime
    action: str
    outcome: str
    actor: str  # "patron", "staff:<name>", "system"
    channel: str
    source: str = ""
    institution: str | None = None
    patron_id: int | None = None
    identifier: str | None = None  # the lockout key, never a secret
    detail: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class StoredAuditEvent:
    id: int
    event: AuditEvent


@dataclass(frozen=True)
class CardHolder:
    """A card found for a sign-in, with what the sign-in needs besides the hash: the
    patron's credentials, and how many forced changes (R26) the patron's institution
    has on record (none, the usual case: nothing more to read after the hash)."""

    patron: Patron
    identifier: Identifier
    credentials: tuple[Credential, ...]
    forced_changes: int


class PatronRepository(Protocol):
    def add(self, patron: NewPatron) -> Patron: ...

    def get(self, patron_id: int) -> Patron | None: ...

    def find(self, lookup_key: str) -> list[tuple[Patron, Identifier]]:
        """Patrons having an identifier (current or replaced) with this lockout key."""

    def card_holders(self, lookup_key: str) -> list[CardHolder]:
        """`find`, each with the patron's credentials and the count of its institution's
        forced changes, in one read (a sign-in)."""

    def identifiers(self, patron_id: int) -> list[Identifier]: ...

    def add_identifier(
        self, patron_id: int, kind: IdentifierKind, value: str, lookup_key: str
    ) -> Identifier:
        """Refuses `identifier.taken` when the value is already on record."""

    def replace_identifier(self, old: Identifier, value: str, lookup_key: str) -> Identifier: ...

    def set_status(self, patron_id: int, status: PatronStatus) -> None: ...

    def with_email(self, email: str, *, limit: int) -> list[Patron]:
        """Patrons whose registered e-mail is `email` (compared without case)."""


class CredentialRepository(Protocol):
    def get(self, patron_id: int, kind: CredentialKind) -> Credential | None: ...

    def for_patron(self, patron_id: int) -> list[Credential]: ...

    def add(self, patron_id: int, credential: NewCredential) -> Credential: ...

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
        """Store a new secret if nobody changed it since `credential` was read.

        Clears the failure count and any suspension. False when the stored version
        moved on (a concurrent change won), and nothing is written.
        """

    def rehash(self, credential: Credential, secret_hash: str) -> bool:
        """Store an upgraded hash of the same secret if the version is unchanged."""

    def use_temporary(self, credential: Credential, now: datetime) -> bool:
        """Mark a temporary secret as having opened its one session (S5). False when it
        already had (or the secret changed meanwhile): nothing is written then."""

    def record_failure(self, credential_id: int) -> int:
        """Atomically add one consecutive failure; the new count."""

    def clear_failures(self, credential_id: int) -> None: ...

    def set_state(
        self,
        credential_id: int,
        state: CredentialState,
        suspended_from: CredentialState | None,
    ) -> None: ...


class TemporaryRepository(Protocol):
    def add(
        self, patron_id: int, kind: CredentialKind, secret_hash: str, expires_at: datetime
    ) -> None: ...

    def active(
        self, patron_id: int, kind: CredentialKind, now: datetime
    ) -> list[TemporarySecret]: ...

    def mark_used(self, temporary_id: int, now: datetime) -> None: ...

    def void(self, patron_id: int, kind: CredentialKind, now: datetime) -> None:
        """End every outstanding temporary secret of this credential."""


class AuditLog(Protocol):
    def record(self, event: AuditEvent) -> None: ...

    def record_counted(self, event: AuditEvent) -> int:
        """Record `event` as the first of a series (its `count` in the detail); its id."""

    def set_count(self, audit_id: int, count: int) -> None:
        """The series recorded as `audit_id` now counts `count` events."""

    def record_many(self, events: Sequence[AuditEvent]) -> None: ...

    def recent(
        self, *, patron_id: int | None = None, identifier: str | None = None, limit: int = 100
    ) -> list[StoredAuditEvent]: ...


class ActionPurpose(StrEnum):
    SET_UP = "set_up"  # R23: the first PIN of a patron without a default
    REVERT_TO_DEFAULT = "revert_to_default"  # R14: PolyU's online reset
    CONFIRM_CHANGE = "confirm_change"  # a code confirming the first change of a default


@dataclass(frozen=True)
class ActionToken:
    id: int
    patron_id: int
    purpose: ActionPurpose
    kind: CredentialKind
    expires_at: datetime


class ActionTokens(Protocol):
    """One-time links sent by e-mail, found by the hash of their token."""

    def add(
        self,
        token_hash: str,
        patron_id: int,
        purpose: ActionPurpose,
        kind: CredentialKind,
        *,
        now: datetime,
        expires_at: datetime,
    ) -> None: ...

    def peek(self, token_hash: str, purpose: ActionPurpose, now: datetime) -> ActionToken | None:
        """The unused, unexpired token, left unused."""

    def take(self, token_hash: str, purpose: ActionPurpose, now: datetime) -> ActionToken | None:
        """Use the token up; None when it was used, expired or never existed."""

    def void(
        self, patron_id: int, purpose: ActionPurpose, kind: CredentialKind, now: datetime
    ) -> int:
        """Use up every live token of the patron for `purpose` and `kind` (a new one
        replaces them); how many there were."""


class Catalogue(Protocol):
    """Titles and their copies (R28). A title's row is also the lock every lending
    decision on its copies takes first."""

    def lock_title(self, title_id: int) -> None:
        """Serialise lending decisions on one title until the transaction ends."""

    def lock_titles(self, title_ids: Sequence[int]) -> None:
        """`lock_title` of several titles at once, in ascending order."""

    def add_title(self, institution: str, title: str, author: str, isbn: str | None) -> Title: ...

    def find_title(
        self, institution: str, title: str, author: str, isbn: str | None
    ) -> Title | None: ...

    def title(self, title_id: int) -> Title | None: ...

    def search_titles(self, institution: str, text: str, *, limit: int) -> list[Title]: ...

    def add_item(self, title_id: int, institution: str, barcode: str, home_library: str) -> Item:
        """Refuses `item.taken` when the institution has the barcode already."""

    def item(self, item_id: int) -> Item | None: ...

    def item_by_barcode(self, institution: str, barcode: str) -> Item | None: ...

    def items_of_title(self, title_id: int) -> list[Item]: ...

    def set_item_status(self, item_id: int, status: ItemStatus) -> None: ...


class Loans(Protocol):
    """Copies lent to patrons; a returned loan is history and no longer found."""

    def open_loans(self, patron_id: int) -> list[Loan]: ...

    def standing_facts(self, patron_id: int, institution: str, today: date) -> StandingFacts:
        """Everything the patron's standing on `today` is computed from, in one read:
        open and overdue loans, the due dates of the overdue ones that accrue a fine,
        fines and payments summed, holds that still count, the institution's closures."""

    def found_with_standing(
        self, lookup_key: str, today: date
    ) -> list[tuple[Patron, Identifier, StandingFacts]]:
        """`PatronRepository.find` and each patron's `standing_facts` on `today` (with
        the closures of the patron's institution), in one read."""

    def found_with_standing_each(
        self, lookup_keys: Collection[str], today: date
    ) -> dict[str, list[tuple[Patron, Identifier, StandingFacts]]]:
        """`found_with_standing` of each of `lookup_keys` (every key in the answer,
        with no rows when no card has it), in one read."""

    def open_loans_listed(self, patron_id: int) -> list[tuple[Loan, Title, str]]:
        """Open loans with their titles and the copies' barcodes (one read)."""

    def open_loan_of_item(self, item_id: int) -> Loan | None: ...

    def loan(self, loan_id: int) -> Loan | None:
        """An open loan (returned ones are history)."""

    def add_loan(
        self, patron_id: int, item: Item, today: date, due_on: date, *, fine_free: bool = False
    ) -> Loan: ...

    def renew_loan(self, loan: Loan, due_on: date) -> None: ...

    def renew_loans(self, renewals: Sequence[tuple[Loan, date]]) -> None:
        """`renew_loan` of several loans in one statement."""

    def return_loan(self, loan: Loan, today: date) -> None: ...


class Holds(Protocol):
    """Reservations of titles, in the order they were placed."""

    def holds_of_patron(self, patron_id: int) -> list[Hold]:
        """Waiting and ready holds."""

    def hold_queue(self, title_id: int) -> list[Hold]:
        """The title's waiting and ready holds."""

    def hold_queues(self, title_ids: Sequence[int]) -> dict[int, list[Hold]]:
        """The queues of several titles in one read (a title without holds is absent)."""

    def hold(self, hold_id: int) -> Hold | None: ...

    def add_hold(self, patron_id: int, title_id: int, pickup: str, placed_at: datetime) -> Hold: ...

    def update_hold(
        self,
        hold_id: int,
        status: HoldStatus,
        *,
        item_id: int | None = None,
        ready_until: date | None = None,
    ) -> None: ...

    def ready_holds_past(self, institution: str, today: date) -> list[Hold]:
        """Holds of the institution ready for pickup whose pickup date has passed."""


class Fines(Protocol):
    """Fines charged, payments received, and the fine calendar's closures."""

    def add_fine(
        self, patron_id: int, loan_id: int | None, amount: int, reason: str, today: date
    ) -> None: ...

    def fines_of(self, patron_id: int) -> list[Fine]: ...

    def add_payment(self, patron_id: int, amount: int, at: datetime, received_by: str) -> None: ...

    def payments_of(self, patron_id: int) -> list[Payment]: ...

    def closures(self, institution: str) -> list[Closure]: ...

    def add_closure(self, institution: str, closure: Closure, *, by: str, at: datetime) -> None: ...

    def end_open_closures(self, institution: str, before: date, until: date) -> int:
        """Give every closure still open that began before `before` the end `until`."""


class PatronRequests(Protocol):
    """Recommendations and interlibrary-loan requests (PolyU, R8)."""

    def add_request(
        self, patron_id: int, kind: RequestKind, text: Mapping[str, str], at: datetime
    ) -> PatronRequest: ...

    def requests_of(self, patron_id: int) -> list[PatronRequest]:
        """Newest first."""

    def request(self, request_id: int) -> PatronRequest | None: ...

    def set_request_status(self, request_id: int, status: RequestStatus, at: datetime) -> None: ...


class ForcedChanges(Protocol):
    def add(
        self, institution: str, rule: ForcedChange, *, created_by: str, at: datetime
    ) -> None: ...

    def for_institution(self, institution: str) -> list[ForcedChange]: ...


class RegistryRow(NamedTuple):
    """One prepared row of a registry feed: validated, digests computed."""

    line: int
    barcode: str
    lookup_key: str
    kind: IdentifierKind
    patron: NewPatron
    credentials: Sequence[NewCredential]
    patron_id: int | None  # None: a new patron
    # For a known patron, the registration fields the row gives (None: all); the
    # others keep their stored values.
    given: frozenset[str] | None = None
    # R20: a directory category's student or staff number (kind, value, lookup key),
    # added as an identifier of the patron when not on record yet.
    link: tuple[IdentifierKind, str, str] | None = None
    # The keyed digest of the feed line (`registration.LineStamp`), kept with the card.
    fingerprint: str | None = None


@dataclass(frozen=True)
class KnownBarcode:
    patron_id: int
    uid: str
    institution: str
    replaced: bool
    category: str
    registered_on: date


@dataclass(frozen=True)
class RegistryBatchResult:
    created: int
    updated: int


class Registry(Protocol):
    def existing(self, barcodes: Sequence[str]) -> dict[str, KnownBarcode]:
        """The patrons already holding any of these barcodes (current or replaced)."""

    def fingerprints(self, institution: str) -> Iterator[tuple[str, str]]:
        """The fingerprint of the feed line each current card of the institution was
        last created or updated from, with that card's barcode; one query, its rows
        streamed while the unit of work is open (the caller keeps what it needs)."""

    def upsert(self, rows: Sequence[RegistryRow]) -> RegistryBatchResult:
        """Insert new patrons and update known ones; each row's fingerprint is kept
        with its card (replacing the one there, None included).

        For a known patron the fields the row gives replace the stored ones (the
        registration date never changes; a feed moves the status only of a pending
        registration), the default digests follow the new data, and a credential
        still in the default state takes the new default as its secret.
        """

    def after_bulk_load(self) -> None:
        """Bring the database's planning statistics up to date after many rows were
        added at once, so that the next query on them (a re-import's fingerprints)
        is planned for the rows now there."""


@dataclass(frozen=True)
class StoredTerminal:
    terminal: Terminal
    password_hash: str


class TerminalRepository(Protocol):
    """Self-service terminals (SIP2 logins), found by their login."""

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
        """Refuses `terminal.login_taken` when the login exists already."""

    def get(self, login: str) -> StoredTerminal | None: ...

    def all(self, institution: str | None = None) -> list[Terminal]: ...

    def set_enabled(self, login: str, enabled: bool, at: datetime) -> None: ...

    def set_options(self, login: str, options: TerminalOptions, at: datetime) -> None: ...

    def set_password_hash(self, login: str, password_hash: str, at: datetime) -> None: ...


@dataclass(frozen=True)
class StoredStaff:
    member: StaffMember
    password_hash: str | None  # None until enrolment sets it
    totp_secret: str | None
    totp_last_step: int | None


@dataclass(frozen=True)
class WebAuthnKey:
    id: int
    staff_id: int
    credential_id: bytes
    public_key: bytes
    sign_count: int


@dataclass(frozen=True)
class Enrolment:
    staff_id: int
    expires_at: datetime
    totp_secret: str | None  # offered on the enrolment page, kept until used
    challenge: bytes | None  # the WebAuthn registration challenge offered


class StaffRepository(Protocol):
    """Staff accounts of the console, their second factors and enrolment links."""

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
        """Refuses `staff.login_taken` when the login exists already."""

    def get(self, staff_id: int) -> StoredStaff | None: ...

    def by_login(self, login: str) -> StoredStaff | None: ...

    def all(self) -> list[StaffMember]: ...

    def set_status(self, staff_id: int, status: StaffStatus, at: datetime) -> None: ...

    def set_role(self, staff_id: int, role: Role, at: datetime) -> None: ...

    def set_password(self, staff_id: int, password_hash: str, at: datetime) -> None: ...

    def set_totp(self, staff_id: int, secret: str, at: datetime) -> None: ...

    def clear_totp(self, staff_id: int, at: datetime) -> None: ...

    def lock(self, staff_id: int) -> None:
        """Hold the account's row until the unit of work ends, so that two changes of
        its second factors happen one after the other."""

    def use_totp_step(self, staff_id: int, step: int) -> bool:
        """Atomically record `step` as used if it is later than the last one used;
        False when it is not (the code was used already)."""

    def add_key(
        self, staff_id: int, credential_id: bytes, public_key: bytes, sign_count: int, at: datetime
    ) -> None: ...

    def keys(self, staff_id: int) -> list[WebAuthnKey]: ...

    def remove_key(self, staff_id: int, key_id: int) -> bool:
        """False when the member has no such key."""

    def use_key(self, key_id: int, old_count: int, new_count: int, at: datetime) -> bool:
        """Store the authenticator's new signature counter if it still is `old_count`."""

    def add_enrolment(
        self, token_hash: str, staff_id: int, *, now: datetime, expires_at: datetime
    ) -> None: ...

    def enrolment(self, token_hash: str, now: datetime) -> Enrolment | None:
        """The unused, unexpired enrolment link, left unused."""

    def offer(self, token_hash: str, totp_secret: str, challenge: bytes) -> None:
        """Remember what the enrolment page offered (the TOTP key, the WebAuthn challenge)."""

    def take_enrolment(self, token_hash: str, now: datetime) -> bool:
        """Use the enrolment link up; False when it was used or expired meanwhile."""

    def find_patrons(
        self,
        institutions: Sequence[str],
        *,
        name: str | None = None,
        email: str | None = None,
        phone_prefix: str | None = None,
        limit: int,
    ) -> list[Patron]:
        """Patrons of `institutions` whose name contains `name`, whose e-mail is
        `email`, or whose masked phone begins with `phone_prefix`."""

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
        """Audit records, newest first, of the institutions (all when None)."""


class StaffSessions(Protocol):
    """Sessions of the staff console, found by the hash of their token."""

    def create(
        self, token_hash: str, staff_id: int, stage: Stage, *, source: str, now: datetime
    ) -> StaffSession: ...

    def find(self, token_hash: str) -> StaffSession | None: ...

    def touch(self, session_id: int, now: datetime) -> None: ...

    def verified(self, session_id: int, now: datetime) -> None:
        """A second factor was given in this session now."""

    def set_challenge(self, session_id: int, challenge: bytes | None) -> None: ...

    def challenge(self, session_id: int) -> bytes | None: ...

    def revoke(self, session_id: int, now: datetime) -> None: ...

    def revoke_staff(self, staff_id: int, now: datetime) -> int: ...


@dataclass(frozen=True)
class NewKey:
    credential_id: bytes
    public_key: bytes
    sign_count: int


class SecondFactors(Protocol):
    """TOTP (RFC 6238) and WebAuthn for staff sign-in."""

    def new_totp_secret(self) -> str: ...

    def totp_uri(self, secret: str, login: str) -> str:
        """The otpauth:// URI an authenticator app reads from the QR code."""

    def totp_step(self, secret: str, code: str, now: datetime) -> int | None:
        """The time step whose code `code` is, within one step of `now`; else None."""

    def qr_svg(self, text: str) -> str:
        """An inline SVG QR code of `text`."""

    def registration_options(
        self, user_id: bytes, login: str, name: str, exclude: Sequence[bytes]
    ) -> tuple[str, bytes]:
        """The JSON options for `navigator.credentials.create` and their challenge."""

    def verify_registration(self, response: str, challenge: bytes) -> NewKey:
        """Refuses `staff.webauthn_invalid` for any answer that does not verify."""

    def authentication_options(self, allow: Sequence[bytes]) -> tuple[str, bytes]: ...

    def credential_id(self, response: str) -> bytes:
        """The key an assertion names; refuses `staff.webauthn_invalid` if unreadable."""

    def verify_authentication(self, response: str, challenge: bytes, key: WebAuthnKey) -> int:
        """The key's new signature counter; refuses `staff.webauthn_invalid` for a wrong
        origin, challenge or signature and `staff.webauthn_replayed` for a counter
        that did not move forward."""


@dataclass(frozen=True)
class StoredCall:
    platform: str
    call_id: str
    institution: str
    state: str  # the dialogue's state, as the telephone line wrote it; "" once ended
    turn: str  # the token the next request of the call must carry
    started_at: datetime
    updated_at: datetime
    ended_at: datetime | None


class CallRepository(Protocol):
    """The telephone line's calls, by platform and the platform's call id."""

    def add(
        self, platform: str, call_id: str, institution: str, state: str, turn: str, at: datetime
    ) -> bool:
        """False when the call id is known already (a replayed first request)."""

    def get(self, platform: str, call_id: str) -> StoredCall | None: ...

    def take_turn(self, platform: str, call_id: str, turn: str, new_turn: str) -> bool:
        """Replace the call's turn token if it is `turn` and the call goes on, atomically:
        of two requests carrying one token, exactly one gets True."""

    def save(self, platform: str, call_id: str, state: str, at: datetime, *, ended: bool) -> None:
        """Store the state after a turn; an ended call keeps no state and no token."""

    def purge(self, before: datetime) -> int:
        """Delete the calls untouched since `before`; how many."""


@dataclass(frozen=True)
class StoredClient:
    client: Client
    secret_digest: str | None


@dataclass(frozen=True)
class NewClient:
    client_id: str
    name: str
    protocol: SignOnProtocol
    institution: str
    secret_digest: str | None
    redirect_uris: tuple[str, ...]
    logout_uris: tuple[str, ...]
    allow_from: tuple[str, ...]
    trusted: bool
    public: bool


@dataclass(frozen=True)
class AuthorizationCode:
    id: int
    client_id: str
    patron_id: int
    redirect_uri: str
    scope: str
    nonce: str | None
    code_challenge: str | None
    code_challenge_method: str | None
    session_id: int | None
    auth_time: datetime
    expires_at: datetime
    used_at: datetime | None


@dataclass(frozen=True)
class IssuedToken:
    id: int
    kind: str  # "access" or "refresh"
    client_id: str
    patron_id: int
    scope: str
    code_id: int | None
    session_id: int | None
    created_at: datetime
    expires_at: datetime
    revoked: bool


@dataclass(frozen=True)
class CasTicket:
    id: int
    client_id: str
    service: str
    patron_id: int
    renewed: bool
    expires_at: datetime
    used_at: datetime | None


class SignOnRepository(Protocol):
    """The library's services (clients), and what they were given: OIDC codes and
    tokens, CAS tickets (all found by the SHA-256 of their value), and visits."""

    def add_client(self, new: NewClient, *, created_by: str, at: datetime) -> Client:
        """Refuses `client.id_taken` when the client id exists already."""

    def client(self, client_id: str) -> StoredClient | None: ...

    def clients(self, institution: str | None = None) -> list[Client]: ...

    def set_client_enabled(self, client_id: str, enabled: bool, at: datetime) -> None: ...

    def set_client_secret(self, client_id: str, secret_digest: str, at: datetime) -> None: ...

    def add_code(self, code_hash: str, code: AuthorizationCode) -> None: ...

    def take_code(self, code_hash: str, now: datetime) -> tuple[AuthorizationCode, bool] | None:
        """The code and whether this was its first use (it is marked used either way)."""

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
        """Tokens issued together, as (token hash, kind, expiry), in one statement."""

    def token(self, token_hash: str) -> IssuedToken | None: ...

    def revoke_token(self, token_id: int, now: datetime) -> bool:
        """End a token; False when it had ended already (a replayed refresh token)."""

    def revoke_tokens_of_code(self, code_id: int, now: datetime) -> int: ...

    def revoke_tokens_of_session(self, session_id: int, now: datetime) -> int: ...

    def add_visit(
        self, patron_id: int, client_id: str, session_id: int | None, at: datetime
    ) -> None: ...

    def clients_of_session(self, session_id: int) -> list[Client]:
        """The services a sign-on session was used for."""

    def visited(self, patron_id: int, *, limit: int) -> list[tuple[Client, datetime]]:
        """The services a patron signed in to, the latest visit of each, newest first."""

    def add_ticket(self, ticket_hash: str, ticket: CasTicket, *, now: datetime) -> None: ...

    def take_ticket(self, ticket_hash: str, now: datetime) -> tuple[CasTicket, bool] | None:
        """The ticket and whether this was its first use (it is marked used either way)."""


class UnitOfWork(Protocol):
    @property
    def patrons(self) -> PatronRepository: ...

    @property
    def calls(self) -> CallRepository: ...

    @property
    def terminals(self) -> TerminalRepository: ...

    @property
    def credentials(self) -> CredentialRepository: ...

    @property
    def temporaries(self) -> TemporaryRepository: ...

    @property
    def audit(self) -> AuditLog: ...

    @property
    def forced_changes(self) -> ForcedChanges: ...

    @property
    def action_tokens(self) -> ActionTokens: ...

    @property
    def sessions(self) -> SessionRows: ...

    @property
    def catalogue(self) -> Catalogue: ...

    @property
    def loans(self) -> Loans: ...

    @property
    def holds(self) -> Holds: ...

    @property
    def fines(self) -> Fines: ...

    @property
    def requests(self) -> PatronRequests: ...

    @property
    def registry(self) -> Registry: ...

    @property
    def staff(self) -> StaffRepository: ...

    @property
    def staff_sessions(self) -> StaffSessions: ...

    @property
    def sign_on(self) -> SignOnRepository: ...

    def __enter__(self) -> UnitOfWork: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Roll back whatever was not committed."""

    def commit(self) -> None: ...


UnitOfWorkFactory = Callable[[], UnitOfWork]


class Telemetry(Protocol):
    """What the operators' metrics count: outcomes only, never an identifier or a secret."""

    def attempt(self, channel: str, outcome: str) -> None:
        """One attempt on a channel ended with an outcome (`Outcome.value`)."""


class DirectoryLookup(StrEnum):
    UID = "uid"  # the Portal UID typed at sign-in
    BARCODE = "barcode"  # a card scanned at a kiosk
    LINK = "link"  # the student or staff number of a library record


@dataclass(frozen=True)
class DirectoryEntry:
    dn: str
    link: str | None  # the link attribute's value: names the library record


@dataclass(frozen=True)
class DirectoryProbe:
    """What `directory check` found at one URL: never a secret."""

    url: str
    ok: bool
    detail: str
    seconds: float


class Directory(Protocol):
    """The campus directory (R20): it alone decides whether a PIN is right.

    Every method raises `Unavailable` when no configured server answers within the
    configuration's timeouts; nothing is decided then and nothing falls back.
    """

    def find(
        self, config: DirectoryConfig, lookup: DirectoryLookup, value: str
    ) -> DirectoryEntry | None:
        """The one entry the lookup's filter matches, searched with the service account.

        `value` is escaped for the filter (RFC 4515), so `*`, `(`, `)`, `\\` and NUL
        match only themselves. None when no entry or more than one matches.
        """

    def bind(self, config: DirectoryConfig, dn: str, pin: str) -> bool:
        """Whether the directory accepts `pin` for the entry `dn` (a simple bind).

        An empty PIN is never sent: to an LDAP server a bind with an empty password is
        an anonymous bind, which succeeds without proving anything.
        """

    def probe(self, config: DirectoryConfig, uid: str | None) -> list[DirectoryProbe]:
        """`directory check`: connect, StartTLS or LDAPS, bind with the service account
        and search (for `uid`, or the base entry) at every URL in turn."""


class NoDirectory:
    """A deployment without a directory: every question is unanswered."""

    def find(
        self, config: DirectoryConfig, lookup: DirectoryLookup, value: str
    ) -> DirectoryEntry | None:
        raise Unavailable.of("directory.unavailable")

    def bind(self, config: DirectoryConfig, dn: str, pin: str) -> bool:
        raise Unavailable.of("directory.unavailable")

    def probe(self, config: DirectoryConfig, uid: str | None) -> list[DirectoryProbe]:
        return [DirectoryProbe(url, False, "no directory client", 0.0) for url in config.urls]


class SigningKeys(Protocol):
    """The keys that sign OpenID Connect ID tokens (created by `patronauth init`)."""

    @property
    def pairwise_salt(self) -> bytes:
        """The secret behind pairwise subject identifiers; never changes."""

    def signing_key(self) -> object:
        """The current private key, in the form the protocol library takes."""

    def published(self, now: datetime) -> list[dict[str, object]]:
        """The public keys (JWK) whose tokens may still be presented."""

    def rotate(self, now: datetime, *, keep_seconds: int) -> str:
        """Start signing with a new key; the old one stays published for
        `keep_seconds`. The new key's id."""


@dataclass
class _Block:
    until: float
    audit_id: int | None = None
    count: int = 0
    written: int = 0
    written_at: float = 0.0
    confirmed_at: float = 0.0  # when the attempt counter last said it is blocked


class RefusalTally:
    """Refusals of blocked identifiers, counted per block (P2): the first refusal of a
    block writes one audit record; the later ones raise its count, written at most
    every `every` seconds (and by `due` when asked). Kept by this process: each node
    writes its own record of a block. It also lets this process answer a refusal
    from memory for a moment after the counter said the identifier is blocked
    (`known`)."""

    # Every five seconds: under a flood on many blocked cards, each node writes each
    # block's count once in five seconds (once a second, these writes and their reads
    # of the counter took a sixth of a node's time under a flood on 32 cards); the
    # count in My Account lags by as much at most.
    def __init__(self, every: float = 5.0) -> None:
        self.every = every
        self._blocks: dict[tuple[str, str], _Block] = {}
        self._ended: list[_Block] = []  # counts still to write of blocks that ended
        self._lock = threading.Lock()

    def add(self, key: str, channel: str, until: float, now: float) -> tuple[int, int | None]:
        """Count one refusal of `key` on `channel`, blocked until about `until`: (the
        count to write now, 0 for none; the block's record, None for a new block)."""
        with self._lock:
            tally = self._blocks.get((key, channel))
            # A block's end is fixed (`until` is known to a second): a later one is new.
            if tally is not None and until > tally.until + 1:
                if tally.count > tally.written and tally.audit_id is not None:
                    self._ended.append(tally)
                tally = None
            if tally is None:
                if len(self._blocks) > 10_000:
                    self._forget(now)
                tally = self._blocks[(key, channel)] = _Block(until, written_at=now)
            tally.confirmed_at = now  # the counter has just said so
            tally.count += 1
            if tally.count == 1:
                tally.written = 1
                return 1, None
            if tally.audit_id is None or now - tally.written_at < self.every:
                return 0, tally.audit_id
            tally.written, tally.written_at = tally.count, now
            return tally.count, tally.audit_id

    def known(self, key: str, channel: str, now: float, *, fresh: float) -> float | None:
        """Count one refusal of `key` on `channel` without asking the counter: when the
        counter said it is blocked less than `fresh` seconds ago, the block has not
        ended, its record is written and its count is not due to be written now, the
        block's end; otherwise None, and nothing is counted."""
        with self._lock:
            tally = self._blocks.get((key, channel))
            # `until` is the counter's answer in whole seconds, up to one late: the
            # block is known to last only until a second before it.
            if (
                tally is None
                or tally.audit_id is None
                or now >= tally.until - 1
                or now - tally.confirmed_at >= fresh
                or now - tally.written_at >= self.every
            ):
                return None
            tally.count += 1
            return tally.until

    def unblocked(self, key: str) -> None:
        """Staff lifted the block of `key`: nothing more is answered from memory."""
        with self._lock:
            for (blocked, _channel), tally in self._blocks.items():
                if blocked == key:
                    tally.confirmed_at = float("-inf")

    def recorded(self, key: str, channel: str, audit_id: int) -> None:
        with self._lock:
            tally = self._blocks.get((key, channel))
            if tally is not None and tally.audit_id is None:
                tally.audit_id = audit_id

    def due(self) -> list[tuple[int, int]]:
        """(record, count) of every block whose count is not written yet; marked written."""
        with self._lock:
            owed = []
            for tally in [*self._ended, *self._blocks.values()]:
                if tally.audit_id is not None and tally.count > tally.written:
                    owed.append((tally.audit_id, tally.count))
                    tally.written = tally.count
            self._ended = []
            return owed

    def _forget(self, now: float) -> None:
        """Blocks that have ended and whose counts are written."""
        for block, tally in list(self._blocks.items()):
            if tally.until + 1 < now and tally.written == tally.count:
                del self._blocks[block]


class NoTelemetry:
    def attempt(self, channel: str, outcome: str) -> None:
        return None


@dataclass(frozen=True)
class Ports:
    """Everything a use case may need; built once by the composition root."""

    uow: UnitOfWorkFactory
    profiles: Profiles
    hasher: SecretHasher
    counter: AttemptCounter
    throttle: Throttle
    clock: Clock
    randomness: Randomness
    notifier: Notifier
    blocklists: Blocklists
    sessions: SessionStore
    session_policy: SessionPolicy
    public_url: str  # where patrons reach the web pages, for links in e-mails
    telemetry: Telemetry = field(default_factory=NoTelemetry)
    directory: Directory = field(default_factory=NoDirectory)
    signing_keys: SigningKeys | None = None  # OpenID Connect; None where not set up
    reads: UnitOfWorkFactory | None = None  # units of work that only read, where set up
    refusals: RefusalTally = field(default_factory=RefusalTally)

    def read(self) -> UnitOfWork:
        """A unit of work that only reads (on SQLite it does not queue for the write
        lock); the ordinary one where none is set up. Nothing in it is committed."""
        return (self.reads or self.uow)()


@dataclass(frozen=True)
class StaffPorts:
    """The staff console's needs beside the patrons' ports."""

    ports: Ports
    factors: SecondFactors
    console_url: str  # where the console answers, for enrolment links
