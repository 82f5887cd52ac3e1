"""The call as a pure state machine: events in, turns out, state as data (no I/O)."""

from __future__ import annotations

from datetime import date

import pytest

from patronauth.domain.credentials import Outcome
from patronauth.domain.profile import KeyedLetters, TelephoneLine
from patronauth.telephone import dialogue as d
from patronauth.telephone.keyed import card_numbers, keyed_form, well_formed

LINE = TelephoneLine(default_language="yue", letters=KeyedLetters.POSITION)
JULAC = TelephoneLine(letters=KeyedLetters.DIGITS, prefixes=("CITYU", "CU", "BU"))


def keys(said: tuple[d.Say, ...]) -> list[str]:
    return [s.key for s in said]


def run(*events: d.Event, line: TelephoneLine = LINE) -> tuple[d.Call, d.Turn]:
    call, turn = d.begin(line, offered=True)
    for event in events:
        call, turn = d.advance(call, event, line)
    return call, turn


def test_a_call_begins_with_the_languages_each_in_its_own_language() -> None:
    call, turn = d.begin(LINE, offered=True)
    assert call.step is d.Step.LANGUAGE
    assert [(s.key, s.language) for s in turn.say] == [
        ("welcome", "yue"),
        ("language.choose", "yue"),
        ("language.choose", "cmn"),
        ("language.choose", "en"),
    ]
    assert turn.collect == d.Collect(1, finish_on_hash=False)


def test_no_line_only_says_so_in_three_languages_and_ends() -> None:
    call, turn = d.begin(LINE, offered=False)
    assert call.step is d.Step.ENDED
    assert turn.ended
    assert turn.collect is None
    assert [(s.key, s.language) for s in turn.say] == [
        ("not_offered", "yue"), ("not_offered", "cmn"), ("not_offered", "en"),
    ]  # fmt: skip
    with pytest.raises(d.NotExpected):
        d.advance(call, d.Keys("1"), LINE)


@pytest.mark.parametrize(
    ("event", "language"),
    [(d.Keys("1"), "yue"), (d.Keys("2"), "cmn"), (d.Keys("3"), "en"), (d.Timeout(), "cmn")],
)
def test_the_language_chosen_or_the_librarys_default(event: d.Event, language: str) -> None:
    line = TelephoneLine(default_language="cmn")
    call, turn = run(event, line=line)
    assert call.language == language
    assert call.step is d.Step.CARD
    assert keys(turn.say) == ["card.enter", "card.letters_position"]
    assert turn.collect == d.Collect(40, finish_on_hash=True)


def test_the_pin_goes_to_sign_in_and_is_never_kept() -> None:
    call, turn = run(d.Keys("3"), d.Keys("*08*11*16*120001"))
    assert call.cards == ("HKPL0001",)
    call, turn = d.advance(call, d.Keys("4567"), LINE)
    assert turn.action == d.SignIn(("HKPL0001",), "4567")
    assert call.step is d.Step.WORKING
    assert "4567" not in repr(call.to_data())
    assert call.cards == ()


def test_three_tries_at_a_question_then_goodbye() -> None:
    call, turn = run(d.Keys("3"), d.Keys("*99"))
    assert keys(turn.say) == ["entry.invalid", "card.enter", "card.letters_position"]
    call, turn = d.advance(call, d.Timeout(), LINE)
    assert keys(turn.say)[0] == "entry.none"
    call, turn = d.advance(call, d.Keys(""), LINE)
    assert keys(turn.say) == ["entry.invalid", "too_many_tries", "goodbye"]
    assert turn.ended
    assert call.step is d.Step.ENDED


def signed_in_call() -> d.Call:
    call, turn = run(d.Keys("3"), d.Keys("123"), d.Keys("4567"))
    call, turn = d.advance(call, d.SignedIn(Outcome.OK, patron_id=7), LINE)
    assert keys(turn.say) == ["signin.ok", "menu"]
    return call


def test_three_wrong_card_and_pin_pairs_end_the_call() -> None:
    call, _ = run(d.Keys("3"))
    for n in range(3):
        call, _ = d.advance(call, d.Keys("123"), LINE)
        call, _ = d.advance(call, d.Keys("0000"), LINE)
        call, turn = d.advance(call, d.SignedIn(Outcome.INVALID), LINE)
        if n < 2:
            assert keys(turn.say) == ["signin.invalid", "card.enter", "card.letters_position"]
    assert keys(turn.say) == ["signin.invalid", "too_many_tries", "goodbye"]
    assert turn.ended


@pytest.mark.parametrize(
    ("outcome", "retry_after", "said"),
    [
        (Outcome.BLOCKED, 61, [("signin.blocked", {"minutes": 2}), ("goodbye", {})]),
        (Outcome.SUSPENDED, 0, [("signin.suspended", {}), ("goodbye", {})]),
        (Outcome.CHANGE_REQUIRED, 0, [("signin.change_required", {}), ("goodbye", {})]),
        (Outcome.PENDING_REGISTRATION, 0, [("signin.pending_registration", {}), ("goodbye", {})]),
        (Outcome.THROTTLED, 5, [("service.busy", {}), ("goodbye", {})]),
    ],
)
def test_a_refused_sign_in_is_told_and_the_call_ends(
    outcome: Outcome, retry_after: int, said: list[tuple[str, dict[str, int]]]
) -> None:
    call, _ = run(d.Keys("3"), d.Keys("123"), d.Keys("4567"))
    call, turn = d.advance(call, d.SignedIn(outcome, retry_after), LINE)
    assert [(s.key, dict(s.params)) for s in turn.say] == said
    assert turn.ended


@pytest.mark.parametrize(
    ("key", "action"),
    [("1", d.ListLoans()), ("2", d.RenewAll()), ("4", d.HearFines())],
)
def test_the_menu(key: str, action: d.Action) -> None:
    _call, turn = d.advance(signed_in_call(), d.Keys(key), LINE)
    assert turn.action == action


def test_renew_one_asks_the_position_and_tells_the_reason_of_a_refusal() -> None:
    call, turn = d.advance(signed_in_call(), d.Keys("3"), LINE)
    assert keys(turn.say) == ["renew.which"]
    call, turn = d.advance(call, d.Keys("2"), LINE)
    assert turn.action == d.RenewOne(2)
    renewal = d.Renewal(2, None, "renewal.reserved")
    call, turn = d.advance(call, d.Renewed((renewal,), one=True), LINE)
    assert keys(turn.say) == ["renew.refused", "renewal.reserved", "menu"]
    call, turn = d.advance(call, d.Keys("0"), LINE)  # repeat
    assert keys(turn.say) == ["renew.refused", "renewal.reserved", "menu"]


def test_renew_all_and_the_loans_are_said_by_position() -> None:
    due = date(2027, 1, 5)
    call, _ = d.advance(signed_in_call(), d.Keys("2"), LINE)
    result = d.Renewed((d.Renewal(1, due), d.Renewal(2, None, "renewal.max_renewals")), False)
    call, turn = d.advance(call, result, LINE)
    assert [(s.key, dict(s.params)) for s in turn.say] == [
        ("renew.summary", {"renewed": 1, "refused": 1}),
        ("renew.renewed", {"position": 1, "date": due}),
        ("renew.refused", {"position": 2}),
        ("renewal.max_renewals", {}),
        ("menu", {}),
    ]
    restored = d.Call.from_data(call.to_data())
    assert restored == call


def test_state_round_trips_through_data() -> None:
    call = signed_in_call()
    call, _ = d.advance(call, d.Keys("1"), LINE)
    call, _ = d.advance(call, d.Loans((d.LoanDue(date(2026, 12, 15), False),)), LINE)
    assert d.Call.from_data(call.to_data()) == call


def test_a_hang_up_ends_any_step_and_an_ended_call_reads_nothing() -> None:
    call, _ = run(d.Keys("3"), d.Keys("123"))
    call, turn = d.advance(call, d.HangUp(), LINE)
    assert (call.step, call.cards, turn.say, turn.ended) == (d.Step.ENDED, (), (), True)
    with pytest.raises(d.NotExpected):
        d.advance(call, d.Keys("4567"), LINE)


def test_a_result_the_step_does_not_wait_for_is_not_expected() -> None:
    call, _ = run(d.Keys("3"))
    with pytest.raises(d.NotExpected):
        d.advance(call, d.SignedIn(Outcome.OK, patron_id=1), LINE)


@pytest.mark.parametrize(
    ("keys_", "line", "cards"),
    [
        ("*08*11*16*120001", LINE, ("HKPL0001",)),
        ("21012345*01", LINE, ("21012345A",)),
        ("*26*011234", LINE, ("ZA1234",)),
        ("*27", LINE, ()),  # no 27th letter
        ("*1", LINE, ()),
        ("12*", LINE, ()),
        ("1234567", JULAC, ("CITYU1234567", "CU1234567", "BU1234567", "1234567")),
        ("*03*211234567", JULAC, ()),
    ],
)
def test_card_numbers_from_keys(keys_: str, line: TelephoneLine, cards: tuple[str, ...]) -> None:
    assert card_numbers(keys_, line) == cards


def test_keyed_form_is_the_inverse_of_position_keys() -> None:
    for card in ("HKPL0001", "CU1234567", "21012345A", "Z1234567"):
        assert card_numbers(keyed_form(card), LINE) == (card,)


@pytest.mark.parametrize(
    ("raw", "ok"),
    [("0123456789*#", True), ("", True), ("1" * 40, True), ("1" * 41, False), ("12a", False),
     ("１２", False), ("1 2", False), ("12\x00", False)],
)  # fmt: skip
def test_only_keypad_keys_are_well_formed(raw: str, ok: bool) -> None:
    assert well_formed(raw) is ok
