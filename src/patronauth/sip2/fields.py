"""What the self-service answers become in SIP2's fields. Pure, no I/O.

The use cases speak the library's terms (restrictions, an item's status, the
profile's currency); this module owns their wire forms: the 14 positions of the
patron status field (messages 24 and 64), an item's circulation status (18) and the
ISO 4217 currency code (BH).
"""

from __future__ import annotations

from collections.abc import Collection
from enum import IntEnum, StrEnum

from patronauth.domain.circulation import ItemStatus
from patronauth.domain.profile import iso_currency
from patronauth.domain.selfservice import Restriction


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

_FLAGS: dict[Restriction, frozenset[PatronFlag]] = {
    Restriction.NO_BORROWING: frozenset({PatronFlag.CHARGE_PRIVILEGES_DENIED}),
    Restriction.NO_RENEWING: frozenset({PatronFlag.RENEWAL_PRIVILEGES_DENIED}),
    # PatronAuth has no recalls; a patron who may not reserve may not recall either.
    Restriction.NO_RESERVING: frozenset(
        {PatronFlag.HOLD_PRIVILEGES_DENIED, PatronFlag.RECALL_PRIVILEGES_DENIED}
    ),
    Restriction.TOO_MANY_LOANS: frozenset({PatronFlag.TOO_MANY_ITEMS_CHARGED}),
    Restriction.TOO_MANY_OVERDUE: frozenset({PatronFlag.TOO_MANY_ITEMS_OVERDUE}),
    Restriction.EXCESSIVE_FINES: frozenset({PatronFlag.EXCESSIVE_OUTSTANDING_FINES}),
}


def patron_flags(restrictions: Collection[Restriction]) -> frozenset[PatronFlag]:
    """The patron status flags that stand for these restrictions."""
    return frozenset(flag for r in restrictions for flag in _FLAGS[r])


def flags_text(flags: Collection[PatronFlag]) -> str:
    """The 14-character field: `Y` where a flag is set, a blank elsewhere."""
    return "".join("Y" if flag in flags else " " for flag in PatronFlag)


def patron_status(restrictions: Collection[Restriction]) -> str:
    """The patron status field of these restrictions."""
    return flags_text(patron_flags(restrictions))


class CirculationStatus(StrEnum):
    """SIP2's circulation status of an item (message 18)."""

    OTHER = "01"
    AVAILABLE = "03"
    CHARGED = "04"
    WAITING_ON_HOLD_SHELF = "08"
    LOST = "12"


_STATUS = {
    ItemStatus.AVAILABLE: CirculationStatus.AVAILABLE,
    ItemStatus.ON_LOAN: CirculationStatus.CHARGED,
    ItemStatus.HELD: CirculationStatus.WAITING_ON_HOLD_SHELF,
    ItemStatus.LOST: CirculationStatus.LOST,
}


def circulation_status(status: ItemStatus | None) -> CirculationStatus:
    """The code of an item's status; "other" for an item not found."""
    if status is None:
        return CirculationStatus.OTHER
    return _STATUS.get(status, CirculationStatus.OTHER)


def currency_code(symbol: str) -> str:
    """The ISO 4217 code of a profile's currency (BH), "" when unknown."""
    return iso_currency(symbol)
