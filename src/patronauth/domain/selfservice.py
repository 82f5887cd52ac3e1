"""What a self-service terminal is told about a patron (SPEC 4.5).

Pure rules over plain values: the answer to the PIN question (is the patron valid, is
the PIN valid) and the patron's restrictions, computed from the lending standing.
The protocol layer turns them into its fields (`patronauth.sip2.fields`).

Clients accept a patron on a valid patron and a valid PIN, and some take a missing
"valid PIN" for success, so an unknown identifier always gets an explicit "no" to both.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from patronauth.domain.circulation import Standing


class Restriction(StrEnum):
    """What a terminal is told a patron may not do, or has too much of."""

    NO_BORROWING = "no_borrowing"
    NO_RENEWING = "no_renewing"
    NO_RESERVING = "no_reserving"
    TOO_MANY_LOANS = "too_many_loans"
    TOO_MANY_OVERDUE = "too_many_overdue"
    EXCESSIVE_FINES = "excessive_fines"


NO_PRIVILEGES = frozenset(
    {Restriction.NO_BORROWING, Restriction.NO_RENEWING, Restriction.NO_RESERVING}
)


def restrictions(account: Standing | None, *, denied: bool = False) -> frozenset[Restriction]:
    """The restrictions of a patron from the lending standing; an unknown patron (None)
    or a `denied` one (blocked, suspended, a PIN that cannot be used here) may not
    borrow, renew or reserve at all."""
    if account is None:
        return NO_PRIVILEGES
    found: set[Restriction] = set(NO_PRIVILEGES) if denied else set()
    rules = account.rules
    if account.lending_refusal("checkout") or account.loans >= rules.max_loans:
        found.add(Restriction.NO_BORROWING)
    if account.lending_refusal("renewal"):
        found.add(Restriction.NO_RENEWING)
    if account.lending_refusal("hold") or account.holds >= rules.max_holds:
        found.add(Restriction.NO_RESERVING)
    if account.loans >= rules.max_loans:
        found.add(Restriction.TOO_MANY_LOANS)
    if account.blocked_by_overdue:
        found.add(Restriction.TOO_MANY_OVERDUE)
    if account.blocked_by_fines:
        found.add(Restriction.EXCESSIVE_FINES)
    return frozenset(found)


class PinCheck(StrEnum):
    """What became of the PIN a terminal sent for a known patron."""

    NOT_ASKED = "not_asked"  # no PIN in the request
    EMPTY = "empty"  # a PIN sent empty
    RIGHT = "right"
    WRONG = "wrong"  # also a PIN refused as malformed
    BLOCKED = "blocked"  # the identifier is locked out (S3)
    THROTTLED = "throttled"  # too many attempts from this terminal
    SUSPENDED = "suspended"  # the right PIN, but the credential is suspended
    REFUSED = "refused"  # the right PIN, but not usable here (barred, change required...)


DENYING = frozenset({PinCheck.BLOCKED, PinCheck.SUSPENDED, PinCheck.REFUSED})


@dataclass(frozen=True)
class PinAnswer:
    valid_patron: bool
    valid_pin: bool | None  # None: not asked (the terminal sent no PIN)
    as_unknown: bool  # answer exactly as for an unknown identifier
    denied: bool  # no borrowing, renewing or reserving because of the PIN check


UNKNOWN = PinAnswer(valid_patron=False, valid_pin=False, as_unknown=True, denied=True)


def pin_answer(
    known: bool,
    check: PinCheck,
    *,
    allow_pinless: bool = False,
    wrong_pin_as_unknown: bool = False,
) -> PinAnswer:
    """docs/terminals.md, "The PIN question", as a table."""
    if not known or (check is PinCheck.WRONG and wrong_pin_as_unknown):
        return UNKNOWN
    if check is PinCheck.NOT_ASKED:
        # No AD field: CQ is left out, and only a terminal allowed to serve patrons
        # without a PIN may tell their data or lend (a request without AD would
        # otherwise act on any card).
        return PinAnswer(True, None, False, not allow_pinless)
    if check is PinCheck.EMPTY:
        return PinAnswer(True, allow_pinless, False, False)
    if check is PinCheck.RIGHT:
        return PinAnswer(True, True, False, False)
    return PinAnswer(True, False, False, check in DENYING)


def lends(answer: PinAnswer) -> bool:
    """Whether a checkout or renewal may go on after this answer: the PIN must be
    right, or missing or empty where the terminal allows patrons without a PIN."""
    return answer.valid_patron and answer.valid_pin is not False and not answer.denied


def minutes(seconds: int) -> int:
    """Whole minutes, rounded up, for a screen message about a block."""
    return max(1, -(-seconds // 60))


def window(items: tuple[str, ...] | list[str], start: int | None, end: int | None) -> list[str]:
    """The part of an item list a summary asks for: 1-based, inclusive; a missing or
    nonsensical range means the whole list."""
    first = start if start and start > 0 else 1
    last = end if end and end >= first else len(items)
    return list(items[first - 1 : last])
