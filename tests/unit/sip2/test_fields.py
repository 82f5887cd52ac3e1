"""The self-service answers in SIP2's fields: the 14 patron status flags from the
patron's restrictions, item circulation status codes, currency codes."""

from __future__ import annotations

import pytest

from patronauth.domain.circulation import CirculationRules, ItemStatus
from patronauth.domain.patrons import PatronStatus
from patronauth.domain.selfservice import restrictions
from patronauth.sip2.fields import (
    PRIVILEGES_DENIED,
    CirculationStatus,
    PatronFlag,
    circulation_status,
    currency_code,
    flags_text,
    patron_flags,
    patron_status,
)
from tests.unit.standing import account

F = PatronFlag


def test_an_unknown_patron_has_privileges_0_to_3_denied() -> None:
    assert patron_status(restrictions(None)) == "YYYY" + " " * 10
    assert patron_flags(restrictions(None)) == PRIVILEGES_DENIED


FLAGS = {
    "in good standing": ({}, set()),
    "too many items": ({"loans": 3}, {F.CHARGE_PRIVILEGES_DENIED, F.TOO_MANY_ITEMS_CHARGED}),
    "overdue": (
        {"loans": 1, "overdue": 1},
        {F.CHARGE_PRIVILEGES_DENIED, F.RENEWAL_PRIVILEGES_DENIED, F.TOO_MANY_ITEMS_OVERDUE},
    ),
    "fines at the block": (
        {"balance": 1000},
        {*PRIVILEGES_DENIED, F.EXCESSIVE_OUTSTANDING_FINES},
    ),
    "fines below the block": ({"balance": 999}, set()),
    "too many holds": (
        {"holds": 2},
        {F.HOLD_PRIVILEGES_DENIED, F.RECALL_PRIVILEGES_DENIED},
    ),
    "barred": ({"status": PatronStatus.BARRED}, set(PRIVILEGES_DENIED)),
    "expired": ({"status": PatronStatus.EXPIRED}, set(PRIVILEGES_DENIED)),
    "pending": ({"status": PatronStatus.PENDING_REGISTRATION}, set(PRIVILEGES_DENIED)),
}


@pytest.mark.parametrize(("fields", "expected"), FLAGS.values(), ids=FLAGS)
def test_patron_status_flags_follow_the_lending_rules(
    fields: dict[str, object], expected: set[PatronFlag]
) -> None:
    assert patron_flags(restrictions(account(**fields))) == expected


def test_overdue_items_do_not_set_flags_where_the_library_lends_anyway() -> None:
    lenient = CirculationRules(block_when_overdue=False)
    assert patron_flags(restrictions(account(loans=1, overdue=1, rules=lenient))) == set()


def test_a_denied_patron_has_privileges_0_to_3_denied_besides_the_account_flags() -> None:
    flags = patron_flags(restrictions(account(loans=3), denied=True))
    assert flags == {*PRIVILEGES_DENIED, F.TOO_MANY_ITEMS_CHARGED}
    assert flags_text(flags) == "YYYY Y        "


def test_the_flags_field_has_14_positions_in_sip2_order() -> None:
    assert len(PatronFlag) == 14
    assert flags_text({F.EXCESSIVE_OUTSTANDING_FINES}) == " " * 10 + "Y" + " " * 3
    assert flags_text(set()) == " " * 14


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (ItemStatus.AVAILABLE, CirculationStatus.AVAILABLE),
        (ItemStatus.ON_LOAN, CirculationStatus.CHARGED),
        (ItemStatus.HELD, CirculationStatus.WAITING_ON_HOLD_SHELF),
        (ItemStatus.LOST, CirculationStatus.LOST),
    ],
)
def test_item_status_codes(status: ItemStatus, code: CirculationStatus) -> None:
    assert circulation_status(status) is code
    assert len(code.value) == 2


def test_an_item_not_found_is_other() -> None:
    assert circulation_status(None) is CirculationStatus.OTHER
    assert CirculationStatus.OTHER.value == "01"


@pytest.mark.parametrize(
    ("symbol", "code"), [("HK$", "HKD"), ("MOP$", "MOP"), ("EUR", "EUR"), ("€uro", "")]
)
def test_currency_codes(symbol: str, code: str) -> None:
    assert currency_code(symbol) == code
