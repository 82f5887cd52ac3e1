"""What a self-service terminal is told (docs/terminals.md, "The PIN
question"): the PIN answer as a table, the 14 patron status flags from the lending
standing, item status codes, summary windows; terminal accounts' input rules."""

from __future__ import annotations

import pytest

from patronauth.domain.circulation import CirculationRules, ItemStatus, Standing
from patronauth.domain.errors import InvalidInput
from patronauth.domain.patrons import PatronStatus
from patronauth.domain.selfservice import (
    PRIVILEGES_DENIED,
    CirculationStatus,
    PatronFlag,
    PinAnswer,
    PinCheck,
    circulation_status,
    currency_code,
    flags_text,
    lends,
    minutes,
    patron_flags,
    pin_answer,
    window,
)
from patronauth.domain.terminals import (
    Encoding,
    terminal_location,
    terminal_login,
    terminal_password,
)

F = PatronFlag
UNKNOWN = PinAnswer(valid_patron=False, valid_pin=False, as_unknown=True, denied=True)

# (known, check, allow_pinless, wrong_pin_as_unknown) -> (BL, CQ, as unknown, denied)
PIN_TABLE = [
    (False, PinCheck.NOT_ASKED, False, False, (False, False, True, True)),
    (False, PinCheck.EMPTY, True, False, (False, False, True, True)),
    (False, PinCheck.WRONG, False, False, (False, False, True, True)),
    (False, PinCheck.BLOCKED, False, False, (False, False, True, True)),
    (True, PinCheck.NOT_ASKED, False, False, (True, None, False, True)),
    (True, PinCheck.NOT_ASKED, True, False, (True, None, False, False)),
    (True, PinCheck.EMPTY, False, False, (True, False, False, False)),
    (True, PinCheck.EMPTY, True, False, (True, True, False, False)),
    (True, PinCheck.RIGHT, False, False, (True, True, False, False)),
    (True, PinCheck.RIGHT, False, True, (True, True, False, False)),
    (True, PinCheck.WRONG, False, False, (True, False, False, False)),
    (True, PinCheck.WRONG, True, True, (False, False, True, True)),
    (True, PinCheck.BLOCKED, False, False, (True, False, False, True)),
    (True, PinCheck.BLOCKED, False, True, (True, False, False, True)),
    (True, PinCheck.SUSPENDED, False, False, (True, False, False, True)),
    (True, PinCheck.REFUSED, True, False, (True, False, False, True)),
    (True, PinCheck.THROTTLED, False, False, (True, False, False, False)),
]


@pytest.mark.parametrize(
    ("known", "check", "pinless", "as_unknown", "expected"),
    PIN_TABLE,
    ids=[f"{'known' if r[0] else 'unknown'}-{r[1].value}-{r[2]}-{r[3]}" for r in PIN_TABLE],
)
def test_the_pin_answer(
    known: bool,
    check: PinCheck,
    pinless: bool,
    as_unknown: bool,
    expected: tuple[bool, bool | None, bool, bool],
) -> None:
    answer = pin_answer(known, check, allow_pinless=pinless, wrong_pin_as_unknown=as_unknown)
    assert (answer.valid_patron, answer.valid_pin, answer.as_unknown, answer.denied) == expected


def test_an_unknown_identifier_says_no_to_both_questions_with_yyyy() -> None:
    answer = pin_answer(False, PinCheck.RIGHT)
    assert answer == UNKNOWN
    assert flags_text(patron_flags(None)) == "YYYY" + " " * 10


LENDS = [
    ((True, True, False, False), True),
    ((True, None, False, False), True),  # no PIN sent: the terminal vouches
    ((True, False, False, False), False),
    ((True, True, False, True), False),
    ((False, False, True, True), False),
]


@pytest.mark.parametrize(("answer", "expected"), LENDS)
def test_lending_needs_a_valid_patron_and_no_failed_pin(
    answer: tuple[bool, bool | None, bool, bool], expected: bool
) -> None:
    assert lends(PinAnswer(*answer)) is expected


RULES = CirculationRules(max_loans=3, max_holds=2, fines_block=1000, block_when_overdue=True)


def account(**fields: object) -> Standing:
    values: dict[str, object] = {
        "status": PatronStatus.ACTIVE,
        "loans": 0,
        "overdue": 0,
        "balance": 0,
        "holds": 0,
        "rules": RULES,
    }
    values.update(fields)
    return Standing(**values)  # type: ignore[arg-type]


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
    assert patron_flags(account(**fields)) == expected


def test_overdue_items_do_not_set_flags_where_the_library_lends_anyway() -> None:
    lenient = CirculationRules(block_when_overdue=False)
    assert patron_flags(account(loans=1, overdue=1, rules=lenient)) == set()


def test_a_denied_patron_has_privileges_0_to_3_denied_besides_the_account_flags() -> None:
    flags = patron_flags(account(loans=3), denied=True)
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


@pytest.mark.parametrize(
    ("symbol", "code"), [("HK$", "HKD"), ("MOP$", "MOP"), ("EUR", "EUR"), ("€uro", "")]
)
def test_currency_codes(symbol: str, code: str) -> None:
    assert currency_code(symbol) == code


@pytest.mark.parametrize(("seconds", "expected"), [(1, 1), (60, 1), (61, 2), (3600, 60)])
def test_block_minutes_round_up(seconds: int, expected: int) -> None:
    assert minutes(seconds) == expected


ITEMS = ("a", "b", "c", "d", "e")
WINDOWS = [
    (None, None, ["a", "b", "c", "d", "e"]),
    (1, 5, ["a", "b", "c", "d", "e"]),
    (2, 3, ["b", "c"]),
    (3, 3, ["c"]),
    (4, 99, ["d", "e"]),
    (6, 9, []),
    (0, 2, ["a", "b"]),
    (3, 1, ["c", "d", "e"]),  # an end before the start: to the end
]


@pytest.mark.parametrize(("start", "end", "expected"), WINDOWS)
def test_summary_windows_are_1_based_and_inclusive(
    start: int | None, end: int | None, expected: list[str]
) -> None:
    assert window(ITEMS, start, end) == expected


@pytest.mark.parametrize("login", ["kiosk1", "CEN-SC-01", "a", "k.1_b", "k" * 32])
def test_good_terminal_logins(login: str) -> None:
    assert terminal_login(login) == login


@pytest.mark.parametrize("login", ["", "k" * 33, "-kiosk", "kiosk 1", "kiosk|1", "自助", "k\x00"])
def test_bad_terminal_logins(login: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        terminal_login(login)
    assert refused.value.code == "terminal.login_invalid"


PASSWORDS = [
    ("short-pass1", Encoding.UTF8, "terminal.password_too_short"),
    ("x" * 129, Encoding.UTF8, "terminal.password_too_long"),
    ("kiosk-secret\t2026", Encoding.UTF8, "terminal.password_control_character"),
    ("kiosk-secret\u200b2026", Encoding.UTF8, "terminal.password_control_character"),
    ("kiosk|secret-2026", Encoding.UTF8, "terminal.password_separator"),
    ("kiosk-secret-€2026", Encoding.CP850, "terminal.password_not_encodable"),
]


@pytest.mark.parametrize(("password", "encoding", "code"), PASSWORDS)
def test_bad_terminal_passwords(password: str, encoding: Encoding, code: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        terminal_password(password, encoding)
    assert refused.value.code == code


def test_a_password_cp850_can_carry_is_accepted_for_a_cp850_terminal() -> None:
    assert terminal_password("kiosk-sécret-2026", Encoding.CP850) == "kiosk-sécret-2026"
    assert terminal_password("自助借書機-kiosk-2026", Encoding.UTF8) == "自助借書機-kiosk-2026"


def test_locations() -> None:
    assert terminal_location(None) == ""
    assert terminal_location("  Central   Library ") == "Central Library"
    for bad in ("a|b", "x" * 65, "line\nbreak", "<b>Central</b>"):
        with pytest.raises(InvalidInput) as refused:
            terminal_location(bad)
        assert refused.value.code == "terminal.location_invalid"
