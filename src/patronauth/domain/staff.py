"""Staff accounts of the counter console: roles, what each role may do, the staff
password policy, second factors and staff sessions.

Staff are not patrons: they have their own accounts, their own sessions and their own
cookie. A staff account can reset any patron's secret in its institutions, so its
sign-in is the strictest of the product: the strongest password policy, always a
second factor (TOTP or a WebAuthn security key), a lockout keyed `staff:<login>`,
sessions of 15 minutes idle and 8 hours in all, and a fresh second factor before the
most sensitive actions.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from patronauth.domain.credentials import CredentialKind
from patronauth.domain.errors import InvalidInput, Refused, Violation
from patronauth.domain.lockout import LockoutRule
from patronauth.domain.policies import CharClass, CredentialPolicy
from patronauth.domain.sessions import SessionPolicy
from patronauth.domain.text import has_control_characters


class Role(StrEnum):
    COUNTER = "counter"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        return _RANKS[self]


_RANKS = {Role.COUNTER: 1, Role.SUPERVISOR: 2, Role.ADMIN: 3}


class StaffStatus(StrEnum):
    ENROLLING = "enrolling"  # added; the enrolment link has not been used yet
    ACTIVE = "active"
    DISABLED = "disabled"


class Action(StrEnum):
    """What a staff member does in the console; each needs a least role."""

    SEARCH = "search"
    VIEW_PATRON = "view_patron"
    RESET = "reset"
    UNLOCK = "unlock"
    REPLACE_CARD = "replace_card"
    COMPLETE_REGISTRATION = "complete_registration"
    RECORD_PAYMENT = "record_payment"
    FORCE_CHANGE = "force_change"
    TERMINALS = "terminals"
    SIGN_ON = "sign_on"  # the library's services that sign patrons in (OIDC, CAS, proxy)
    AUDIT = "audit"
    MANAGE_STAFF = "manage_staff"


LEAST_ROLE: dict[Action, Role] = {
    Action.SEARCH: Role.COUNTER,
    Action.VIEW_PATRON: Role.COUNTER,
    Action.RESET: Role.COUNTER,
    Action.UNLOCK: Role.COUNTER,
    Action.REPLACE_CARD: Role.COUNTER,
    Action.COMPLETE_REGISTRATION: Role.COUNTER,
    Action.RECORD_PAYMENT: Role.COUNTER,
    Action.FORCE_CHANGE: Role.SUPERVISOR,
    Action.TERMINALS: Role.SUPERVISOR,
    Action.SIGN_ON: Role.SUPERVISOR,
    Action.AUDIT: Role.SUPERVISOR,
    Action.MANAGE_STAFF: Role.ADMIN,
}

# The actions that need the second factor again, however recently the session began.
RECHECKED = frozenset({Action.RESET, Action.MANAGE_STAFF})
RECHECK_SECONDS = 5 * 60  # a second factor this recent counts as the re-check


def may(role: Role, action: Action) -> bool:
    return role.rank >= LEAST_ROLE[action].rank


@dataclass(frozen=True)
class StaffMember:
    id: int
    login: str
    name: str
    role: Role
    institutions: tuple[str, ...]
    status: StaffStatus
    has_totp: bool = False
    webauthn_keys: int = 0

    @property
    def actor(self) -> str:
        """How the audit trail names this member."""
        return f"staff:{self.login}"

    @property
    def lockout_key(self) -> str:
        return lockout_key(self.login)

    def serves(self, institution: str) -> bool:
        return institution in self.institutions


def lockout_key(login: str) -> str:
    """Staff attempts count apart from every patron identifier."""
    return f"staff:{login}"


_LOGIN = re.compile(r"[a-z][a-z0-9._-]{1,31}")
MAX_NAME = 100


def parse_login(raw: str) -> str:
    login = raw.strip().lower()
    if not _LOGIN.fullmatch(login):
        raise InvalidInput.of("staff.login_invalid")
    return login


def parse_name(raw: str) -> str:
    name = " ".join(raw.split())
    if not name or len(name) > MAX_NAME or has_control_characters(name):
        raise InvalidInput.of("staff.name_invalid", max=MAX_NAME)
    return name


def parse_role(raw: str) -> Role:
    try:
        return Role(raw.strip().lower())
    except ValueError:
        raise InvalidInput.of("staff.role_invalid") from None


def parse_institutions(values: Sequence[str], known: Sequence[str]) -> tuple[str, ...]:
    chosen = tuple(dict.fromkeys(v.strip() for v in values if v.strip()))
    if not chosen:
        raise InvalidInput.of("staff.institution_missing")
    for institution in chosen:
        if institution not in known:
            raise InvalidInput.of("institution.unknown", institution=institution)
    return chosen


# The strongest rule of the product: HKPL's current password rule, longer, with the
# trivial-pattern and blocklist checks of every credential.
STAFF_PASSWORD_POLICY = CredentialPolicy(
    kind=CredentialKind.PASSWORD,
    min_length=12,
    max_length=128,
    require_all=frozenset({CharClass.UPPER, CharClass.LOWER, CharClass.DIGIT, CharClass.SPECIAL}),
    reject_trivial=True,
    blocklists=("common-passwords", "common-pins"),
)

# "More than five attempts within one minute" (R12), as for patrons, but the block
# is longer and doubles up to a day.
STAFF_LOCKOUT = LockoutRule(
    max_failures=5,
    window_seconds=60,
    block_seconds=300,
    block_max_seconds=86400,
)

STAFF_SESSIONS = SessionPolicy(idle_seconds=15 * 60, absolute_seconds=8 * 3600)
PENDING_SECONDS = 5 * 60  # between the password and the second factor
ENROLMENT_HOURS = 24


class Stage(StrEnum):
    PASSWORD = "password"  # noqa: S105 (a stage: the password was right, the second factor awaited)
    FULL = "full"


@dataclass(frozen=True)
class StaffSession:
    id: int
    staff_id: int
    stage: Stage
    started_at: datetime
    last_seen_at: datetime
    verified_at: datetime | None  # the last second factor given in this session
    revoked: bool
    source: str = ""

    def problem(self, now: datetime, policy: SessionPolicy = STAFF_SESSIONS) -> str | None:
        """Why the session no longer works, or None."""
        if self.revoked:
            return "staff.session_ended"
        if self.stage is Stage.PASSWORD:
            if now >= self.started_at + timedelta(seconds=PENDING_SECONDS):
                return "staff.session_expired"
            return None
        if now >= self.started_at + timedelta(seconds=policy.absolute_seconds):
            return "staff.session_expired"
        if now >= self.last_seen_at + timedelta(seconds=policy.idle_seconds):
            return "staff.session_idle"
        return None

    def recently_verified(self, now: datetime) -> bool:
        return self.verified_at is not None and now < self.verified_at + timedelta(
            seconds=RECHECK_SECONDS
        )


def totp_step_usable(step: int | None, last_used: int | None) -> Violation | None:
    """A TOTP code counts once: its time step must be later than the last one used."""
    if step is None:
        return Violation("staff.totp_invalid")
    if last_used is not None and step <= last_used:
        return Violation("staff.totp_replayed")
    return None


def require(role: Role, action: Action) -> None:
    if not may(role, action):
        raise StaffForbidden.of("staff.forbidden", action=action.value)


class StaffForbidden(Refused):
    """The staff member's role does not include the action (answered 403)."""
