"""The schema. Changes go through an Alembic migration in `migrations/versions/`."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
)


class UTCDateTime(TypeDecorator[datetime]):
    """Stored as naive UTC everywhere, returned timezone-aware."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC)


Id = BigInteger().with_variant(Integer, "sqlite")

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

patrons = Table(
    "patrons",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("uid", String(32), nullable=False, unique=True),
    Column("institution", String(32), nullable=False, index=True),
    Column("category", String(32), nullable=False),
    Column("status", String(24), nullable=False),
    Column("name", String(200)),
    Column("email", String(254), index=True),
    Column("phone_masked", String(20)),
    Column("phone_digest", String(160)),
    Column("id_type", String(12)),
    Column("id_masked", String(24)),
    Column("id_digest", String(160)),
    Column("registered_on", Date, nullable=False),
    Column("language", String(8), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

identifiers = Table(
    "identifiers",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("patron_id", Id, ForeignKey("patrons.id"), nullable=False, index=True),
    Column("kind", String(16), nullable=False),
    Column("value", String(64), nullable=False, unique=True),
    Column("lookup_key", String(64), nullable=False, index=True),
    Column("status", String(12), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("replaced_at", UTCDateTime),
    # The keyed digest of the registry feed line this card was last imported from (a
    # feed skips a line whose digest is on record); NULL where no feed gave it.
    Column("registry_fingerprint", String(160)),
)

credentials = Table(
    "credentials",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("patron_id", Id, ForeignKey("patrons.id"), nullable=False),
    Column("kind", String(12), nullable=False),
    Column("state", String(16), nullable=False),
    Column("secret_hash", Text, nullable=False),
    Column("default_digest", String(160)),
    Column("policy_from", Date),
    Column("set_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime),
    Column("consecutive_failures", Integer, nullable=False, default=0),
    Column("suspended_from", String(16)),
    Column("version", Integer, nullable=False, default=1),
    # S5: when a temporary secret first opened a session; it opens no second one.
    Column("temporary_used_at", UTCDateTime),
    UniqueConstraint("patron_id", "kind"),
)

temporary_secrets = Table(
    "temporary_secrets",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("patron_id", Id, ForeignKey("patrons.id"), nullable=False),
    Column("kind", String(12), nullable=False),
    Column("secret_hash", Text, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("used_at", UTCDateTime),
    Column("voided_at", UTCDateTime),
    Index(None, "patron_id", "kind"),
)

audit_events = Table(
    "audit_events",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("at", UTCDateTime, nullable=False, index=True),
    Column("action", String(40), nullable=False),
    Column("outcome", String(40), nullable=False),
    Column("actor", String(80), nullable=False),
    Column("channel", String(16), nullable=False),
    Column("source", String(80), nullable=False, default=""),
    Column("institution", String(32)),
    Column("patron_id", Id, index=True),
    Column("identifier", String(64), index=True),
    Column("detail", Text, nullable=False, default="{}"),
)

attempt_counters = Table(
    "attempt_counters",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("state", Text, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False, index=True),
)

forced_changes = Table(
    "forced_changes",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("institution", String(32), nullable=False, index=True),
    Column("go_live", Date, nullable=False),
    Column("categories", Text),
    Column("created_by", String(80), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)

sessions = Table(
    "sessions",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("patron_id", Id, ForeignKey("patrons.id"), nullable=False, index=True),
    Column("channel", String(8), nullable=False),
    Column("scope", String(8), nullable=False),
    Column("change_kind", String(12)),
    Column("source", String(80), nullable=False, default=""),
    Column("started_at", UTCDateTime, nullable=False),
    Column("last_seen_at", UTCDateTime, nullable=False),
    Column("revoked_at", UTCDateTime),
)

action_tokens = Table(
    "action_tokens",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("patron_id", Id, ForeignKey("patrons.id"), nullable=False, index=True),
    Column("purpose", String(24), nullable=False),
    Column("kind", String(12), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("used_at", UTCDateTime),
)

# --- the account behind the login (R28) ------------------------------------------------

titles = Table(
    "titles",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("institution", String(32), nullable=False, index=True),
    Column("title", String(300), nullable=False),
    Column("author", String(200), nullable=False, default=""),
    Column("isbn", String(20)),
    Column("created_at", UTCDateTime, nullable=False),
)

items = Table(
    "items",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("title_id", Id, ForeignKey("titles.id"), nullable=False, index=True),
    Column("institution", String(32), nullable=False),
    Column("barcode", String(64), nullable=False),
    Column("home_library", String(32), nullable=False),
    Column("status", String(16), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    UniqueConstraint("institution", "barcode"),
)

loans = Table(
    "loans",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("patron_id", Id, ForeignKey("patrons.id"), nullable=False),
    Column("item_id", Id, ForeignKey("items.id"), nullable=False, index=True),
    Column("title_id", Id, ForeignKey("titles.id"), nullable=False),
    Column("checked_out_on", Date, nullable=False),
    Column("due_on", Date, nullable=False),
    Column("renewals", Integer, nullable=False, default=0),
    Column("returned_on", Date),
    # Seed 001: a loan from a mobile library accrues no overdue fine.
    Column("fine_free", Boolean, nullable=False, default=False, server_default=false()),
    Index(None, "patron_id", "returned_on"),
)

holds = Table(
    "holds",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("patron_id", Id, ForeignKey("patrons.id"), nullable=False, index=True),
    Column("title_id", Id, ForeignKey("titles.id"), nullable=False),
    Column("pickup", String(32), nullable=False),
    Column("placed_at", UTCDateTime, nullable=False),
    Column("status", String(16), nullable=False),
    Column("item_id", Id, ForeignKey("items.id")),
    Column("ready_until", Date),
    Index(None, "title_id", "status"),
)

fines = Table(
    "fines",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("patron_id", Id, ForeignKey("patrons.id"), nullable=False, index=True),
    Column("loan_id", Id, ForeignKey("loans.id")),
    Column("amount", Integer, nullable=False),
    Column("reason", String(24), nullable=False),
    Column("charged_on", Date, nullable=False),
)

payments = Table(
    "payments",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("patron_id", Id, ForeignKey("patrons.id"), nullable=False, index=True),
    Column("amount", Integer, nullable=False),
    Column("paid_at", UTCDateTime, nullable=False),
    Column("received_by", String(80), nullable=False),
)

closures = Table(
    "closures",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("institution", String(32), nullable=False, index=True),
    Column("start", Date, nullable=False),
    Column("until", Date),
    Column("created_by", String(80), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)

patron_requests = Table(
    "patron_requests",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("patron_id", Id, ForeignKey("patrons.id"), nullable=False, index=True),
    Column("kind", String(24), nullable=False),
    Column("title", String(300), nullable=False),
    Column("author", String(200), nullable=False, default=""),
    Column("note", String(1000), nullable=False, default=""),
    Column("status", String(16), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

# --- self-service terminals (SPEC 4.5) ---------------------------------------------------

terminals = Table(
    "terminals",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("login", String(32), nullable=False, unique=True),
    Column("institution", String(32), nullable=False),
    Column("location", String(64), nullable=False, default=""),
    Column("password_hash", Text, nullable=False),
    Column("enabled", Boolean, nullable=False),
    Column("encoding", String(8), nullable=False),
    Column("crlf", Boolean, nullable=False),
    Column("allow_pinless", Boolean, nullable=False),
    Column("wrong_pin_as_unknown", Boolean, nullable=False),
    Column("channel", String(12), nullable=False, default="sip2"),
    Column("created_by", String(80), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

# The telephone line's calls in progress (docs/telephone.md): the dialogue's state by the
# platform's call id, and the one-time token the next request must carry. An ended call
# keeps its row, emptied, until it is purged, so that a replayed request is refused.
telephone_calls = Table(
    "telephone_calls",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("platform", String(16), nullable=False),
    Column("call_id", String(64), nullable=False),
    Column("institution", String(32), nullable=False),
    Column("state", Text, nullable=False),
    Column("turn", String(64), nullable=False),
    Column("started_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False, index=True),
    Column("ended_at", UTCDateTime),
    UniqueConstraint("platform", "call_id"),
)

# --- sign-on: the library's services (R19) ------------------------------------------------

sign_on_clients = Table(
    "sign_on_clients",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("client_id", String(64), nullable=False, unique=True),
    Column("name", String(80), nullable=False),
    Column("protocol", String(8), nullable=False),
    Column("institution", String(32), nullable=False),
    Column("secret_digest", String(160)),  # keyed digest; none for public clients
    Column("redirect_uris", Text, nullable=False, default=""),  # one a line
    Column("logout_uris", Text, nullable=False, default=""),
    Column("allow_from", Text, nullable=False, default=""),
    Column("trusted", Boolean, nullable=False),
    Column("public", Boolean, nullable=False),
    Column("enabled", Boolean, nullable=False),
    Column("created_by", String(80), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

sign_on_codes = Table(
    "sign_on_codes",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("code_hash", String(64), nullable=False, unique=True),
    Column("client_id", String(64), nullable=False),
    Column("patron_id", Id, ForeignKey("patrons.id"), nullable=False),
    Column("redirect_uri", Text, nullable=False),
    Column("scope", String(200), nullable=False),
    Column("nonce", String(255)),
    Column("code_challenge", String(128)),
    Column("code_challenge_method", String(8)),
    Column("session_id", Id),  # the sign-on (web) session it came from
    Column("auth_time", UTCDateTime, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("used_at", UTCDateTime),
)

sign_on_tokens = Table(
    "sign_on_tokens",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("kind", String(8), nullable=False),  # access, refresh
    Column("client_id", String(64), nullable=False, index=True),
    Column("patron_id", Id, ForeignKey("patrons.id"), nullable=False, index=True),
    Column("scope", String(200), nullable=False),
    Column("code_id", Id, index=True),  # the code it came from: revoked with it on reuse
    Column("session_id", Id),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("revoked_at", UTCDateTime),
)

sign_on_visits = Table(
    "sign_on_visits",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("patron_id", Id, ForeignKey("patrons.id"), nullable=False, index=True),
    Column("client_id", String(64), nullable=False),
    Column("session_id", Id, index=True),
    Column("at", UTCDateTime, nullable=False),
)

cas_tickets = Table(
    "cas_tickets",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("ticket_hash", String(64), nullable=False, unique=True),
    Column("client_id", String(64), nullable=False),
    Column("service", Text, nullable=False),
    Column("patron_id", Id, ForeignKey("patrons.id"), nullable=False),
    Column("renewed", Boolean, nullable=False),  # the secret was typed for this ticket
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("used_at", UTCDateTime),
)

# The staff console (migration 0008).
staff = Table(
    "staff",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("login", String(32), nullable=False, unique=True),
    Column("name", String(100), nullable=False),
    Column("role", String(16), nullable=False),
    Column("institutions", Text, nullable=False),  # space-separated institution ids
    Column("status", String(12), nullable=False),
    Column("password_hash", Text),
    Column("totp_secret", String(64)),
    Column("totp_last_step", BigInteger),
    Column("created_by", String(80), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

staff_keys = Table(
    "staff_keys",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("staff_id", Id, ForeignKey("staff.id"), nullable=False, index=True),
    Column("credential_id", LargeBinary(1024), nullable=False, unique=True),
    Column("public_key", LargeBinary(2048), nullable=False),
    Column("sign_count", BigInteger, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("used_at", UTCDateTime),
)

staff_enrolments = Table(
    "staff_enrolments",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("staff_id", Id, ForeignKey("staff.id"), nullable=False, index=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("used_at", UTCDateTime),
    Column("totp_secret", String(64)),
    Column("challenge", LargeBinary(128)),
)

staff_sessions = Table(
    "staff_sessions",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("staff_id", Id, ForeignKey("staff.id"), nullable=False, index=True),
    Column("stage", String(12), nullable=False),
    Column("source", String(80), nullable=False, default=""),
    Column("started_at", UTCDateTime, nullable=False),
    Column("last_seen_at", UTCDateTime, nullable=False),
    Column("verified_at", UTCDateTime),
    Column("challenge", LargeBinary(128)),
    Column("revoked_at", UTCDateTime),
)
