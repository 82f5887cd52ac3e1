"""What a self-service terminal is told (docs/terminals.md, "The PIN
question"): the PIN answer as a table, the patron's restrictions from the lending
standing, summary windows; terminal accounts' input rules."""

from __future__ import annotations

import pytest

from patronauth.domain.circulation import CirculationRules
from patronauth.domain.errors import InvalidInput
from patronauth.domain.patrons import PatronStatus
from patronauth.domain.selfservice import (
    NO_PRIVILEGES,
    PinAnswer,
    PinCheck,
    Restriction,
    lends,
    minutes,
    pin_answer,
    restrictions,
    window,
)
from patronauth.domain.terminals import (
    Encoding,
    terminal_location,
    terminal_login,
    terminal_password,
)
from tests.unit.standing import account

UNKNOWN = PinAnswer(valid_patron=False, valid_pin=False, as_unknown=True, denied=True)

# (known, check, allow_pinless, wrong_pin_as_unknown)
#   -> (valid patron, valid PIN, as unknown, denied)
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


def test_an_unknown_identifier_says_no_to_both_questions() -> None:
    answer = pin_answer(False, PinCheck.RIGHT)
    assert answer == UNKNOWN


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


R = Restriction


RESTRICTIONS = {
    "in good standing": ({}, set()),
    "too many items": ({"loans": 3}, {R.NO_BORROWING, R.TOO_MANY_LOANS}),
    "overdue": (
        {"loans": 1, "overdue": 1},
        {R.NO_BORROWING, R.NO_RENEWING, R.TOO_MANY_OVERDUE},
    ),
    "fines at the block": ({"balance": 1000}, {*NO_PRIVILEGES, R.EXCESSIVE_FINES}),
    "fines below the block": ({"balance": 999}, set()),
    "too many holds": ({"holds": 2}, {R.NO_RESERVING}),
    "barred": ({"status": PatronStatus.BARRED}, set(NO_PRIVILEGES)),
    "expired": ({"status": PatronStatus.EXPIRED}, set(NO_PRIVILEGES)),
    "pending": ({"status": PatronStatus.PENDING_REGISTRATION}, set(NO_PRIVILEGES)),
}


@pytest.mark.parametrize(("fields", "expected"), RESTRICTIONS.values(), ids=RESTRICTIONS)
def test_restrictions_follow_the_lending_rules(
    fields: dict[str, object], expected: set[Restriction]
) -> None:
    assert restrictions(account(**fields)) == expected


def test_an_unknown_patron_may_not_borrow_renew_or_reserve() -> None:
    assert restrictions(None) == NO_PRIVILEGES == {R.NO_BORROWING, R.NO_RENEWING, R.NO_RESERVING}


def test_overdue_items_restrict_nothing_where_the_library_lends_anyway() -> None:
    lenient = CirculationRules(block_when_overdue=False)
    assert restrictions(account(loans=1, overdue=1, rules=lenient)) == set()


def test_a_denied_patron_has_no_privileges_besides_the_account_restrictions() -> None:
    assert restrictions(account(loans=3), denied=True) == {*NO_PRIVILEGES, R.TOO_MANY_LOANS}


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
