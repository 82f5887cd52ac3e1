"""What a self-service terminal is told about a patron (SPEC 4.5, SIP2 23/63).

Pure rules over plain values: the answer to the PIN question (valid patron BL, valid
PIN CQ) and the 14 patron status flags, computed from the patron's lending standing.
The protocol layer only writes them out.

Clients accept a patron on a valid patron and a valid PIN, and some take a missing
CQ for success, so an unknown identifier always gets an explicit "no" to both.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from enum import IntEnum, StrEnum

from patronauth.domain.circulation import ItemStatus, Standing


class PatronFlag(IntEnum):
    """The positions of SIP2's patron status field."""

    CHARGE_PRIVILEGES_DENIED = 0
    RENEWAL_PRIVILEGES_DENIED = 1
    RECALL_PRIVILEGES_DENIED = 2
    HOLD_PRIVILEGES_DENIED = 3
    CARD_REPORTED_LOST = 4
    TOO_MANY_ITEMS_CHARGED = 5
    TOO_MANY_ITEMS_OVERDUE = 6
    TOO_MANY_RENEWALS = 7
    TOO_MANY_CLAIMS_OF_ITEMS_RETURNED = 8
    TOO_MANY_ITEMS_LOST = 9
    EXCESSIVE_OUTSTANDING_FINES = 10
    EXCESSIVE_OUTSTANDING_FEES = 11
    RECALL_OVERDUE = 12
    TOO_MANY_ITEMS_BILLED = 13


PRIVILEGES_DENIED = frozenset(
    {
        PatronFlag.CHARGE_PRIVILEGES_DENIED,
        PatronFlag.RENEWAL_PRIVILEGES_DENIED,
        PatronFlag.RECALL_PRIVILEGES_DENIED,
        PatronFlag.HOLD_PRIVILEGES_DENIED,
    }
)


def flags_text(flags: Collection[PatronFlag]) -> str:
    """The 14-character field: `Y` where a flag is set, a blank elsewhere."""
    return "".join("Y" if flag in flags else " " for flag in PatronFlag)


def patron_flags(account: Standing | None, *, denied: bool = False) -> frozenset[PatronFlag]:
    """The flags of a patron; an unknown patron (None) or a `denied` one (blocked,
    suspended, a PIN that cannot be used here) has privileges 0-3 denied."""
    if account is None:
        return PRIVILEGES_DENIED
    flags: set[PatronFlag] = set(PRIVILEGES_DENIED) if denied else set()
    rules = account.rules
    if account.lending_refusal("checkout") or account.loans >= rules.max_loans:
        flags.add(PatronFlag.CHARGE_PRIVILEGES_DENIED)
    if account.lending_refusal("renewal"):
        flags.add(PatronFlag.RENEWAL_PRIVILEGES_DENIED)
    if account.lending_refusal("hold") or account.holds >= rules.max_holds:
        # PatronAuth has no recalls; a patron who may not reserve may not recall either.
        flags |= {PatronFlag.HOLD_PRIVILEGES_DENIED, PatronFlag.RECALL_PRIVILEGES_DENIED}
    if account.loans >= rules.max_loans:
        flags.add(PatronFlag.TOO_MANY_ITEMS_CHARGED)
    if account.blocked_by_overdue:
        flags.add(PatronFlag.TOO_MANY_ITEMS_OVERDUE)
    if account.blocked_by_fines:
        flags.add(PatronFlag.EXCESSIVE_OUTSTANDING_FINES)
    return frozenset(flags)


class PinCheck(StrEnum):
    """What became of the PIN a terminal sent (AD) for a known patron."""

    NOT_ASKED = "not_asked"  # no AD in the request
    EMPTY = "empty"  # AD present and empty
    RIGHT = "right"
    WRONG = "wrong"  # also a PIN refused as malformed
    BLOCKED = "blocked"  # the identifier is locked out (S3)
    THROTTLED = "throttled"  # too many attempts from this terminal
    SUSPENDED = "suspended"  # the right PIN, but the credential is suspended
    REFUSED = "refused"  # the right PIN, but not usable here (barred, change required...)


DENYING = frozenset({PinCheck.BLOCKED, PinCheck.SUSPENDED, PinCheck.REFUSED})


@dataclass(frozen=True)
class PinAnswer:
    valid_patron: bool  # BL
    valid_pin: bool | None  # CQ; None: leave it out (no AD was sent)
    as_unknown: bool  # answer exactly as for an unknown identifier
    denied: bool  # privileges 0-3 denied because of the PIN check


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


class CirculationStatus(StrEnum):
    """SIP2's circulation status of an item (message 18)."""

    OTHER = "01"
    AVAILABLE = "03"
    CHARGED = "04"
    WAITING_ON_HOLD_SHELF = "08"
    LOST = "12"


def circulation_status(status: ItemStatus) -> CirculationStatus:
    return {
        ItemStatus.AVAILABLE: CirculationStatus.AVAILABLE,
        ItemStatus.ON_LOAN: CirculationStatus.CHARGED,
        ItemStatus.HELD: CirculationStatus.WAITING_ON_HOLD_SHELF,
        ItemStatus.LOST: CirculationStatus.LOST,
    }.get(status, CirculationStatus.OTHER)


_CURRENCY_CODES = {"HK$": "HKD", "MOP$": "MOP", "US$": "USD", "RMB": "CNY", "¥": "CNY"}


def currency_code(symbol: str) -> str:
    """The ISO 4217 code of a profile's currency (SIP2 BH), "" when unknown."""
    if len(symbol) == 3 and symbol.isascii() and symbol.isalpha() and symbol.isupper():
        return symbol
    return _CURRENCY_CODES.get(symbol, "")


def minutes(seconds: int) -> int:
    """Whole minutes, rounded up, for a screen message about a block."""
    return max(1, -(-seconds // 60))


def window(items: tuple[str, ...] | list[str], start: int | None, end: int | None) -> list[str]:
    """The part of an item list a summary asks for: 1-based, inclusive; a missing or
    nonsensical range means the whole list."""
    first = start if start and start > 0 else 1
    last = end if end and end >= first else len(items)
    return list(items[first - 1 : last])
