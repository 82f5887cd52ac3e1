"""One telephone call as a state machine: keys in, what to say and collect out (sans-I/O).

No platform, no storage and no use case here (the h11 model, as the SIP2 core). An
event goes in (`Keys`, `Timeout`, `HangUp`, or the result of an action); a `Turn`
comes out: what to say (message keys and their parameters), what to collect next, and
perhaps an `Action` for the driver to perform, whose result is the next event. The
call's state is a small value (`Call`) the driver keeps between requests.

Steps (the table `_HANDLERS` below):

    LANGUAGE  1 Cantonese, 2 Putonghua, 3 English; no key: the library's default
    CARD      the card number, then #
    PIN       the PIN, then #: the action `SignIn`
    MENU      1 loans, 2 renew all, 3 renew one, 4 fines, 0 repeat, 9 end
    POSITION  which loan to renew (its place in the list of loans), then #
    WORKING   an action is with the driver; only its result is read
    ENDED     nothing more is read

Each question is asked at most three times; then a polite goodbye. Three wrong card
number or PIN pairs end the call too. A card number is never checked on its own: an
unknown card and a wrong PIN get the one answer (S4).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from enum import StrEnum
from typing import Any

from patronauth.domain.credentials import Outcome
from patronauth.domain.profile import KeyedLetters, TelephoneLine
from patronauth.telephone.keyed import MAX_KEYS, card_numbers

TRIES = 3  # per question, and wrong card number or PIN pairs per call
LANGUAGE_KEYS = {"1": "yue", "2": "cmn", "3": "en"}
MAX_PIN = 20  # the longest PIN of any profile (HKU)
MAX_POSITION = 99
TIMEOUT_SECONDS = 8

Param = str | int | date


class Step(StrEnum):
    LANGUAGE = "language"
    CARD = "card"
    PIN = "pin"
    MENU = "menu"
    POSITION = "position"
    WORKING = "working"
    ENDED = "ended"


# --- what goes out -------------------------------------------------------------------


@dataclass(frozen=True)
class Say:
    key: str  # a message of the telephone catalogue
    params: Mapping[str, Param] = field(default_factory=dict)
    language: str | None = None  # None: the call's language


@dataclass(frozen=True)
class Collect:
    max_keys: int
    finish_on_hash: bool  # card numbers and PINs end with #; a menu choice is one key
    timeout_seconds: int = TIMEOUT_SECONDS


@dataclass(frozen=True)
class SignIn:
    cards: tuple[str, ...]  # what the keys may stand for, the likeliest first
    pin: str  # never kept in the call's state


@dataclass(frozen=True)
class ListLoans:
    pass


@dataclass(frozen=True)
class RenewAll:
    pass


@dataclass(frozen=True)
class RenewOne:
    position: int  # 1-based, in the order of the list of loans


@dataclass(frozen=True)
class HearFines:
    pass


Action = SignIn | ListLoans | RenewAll | RenewOne | HearFines


@dataclass(frozen=True)
class Turn:
    say: tuple[Say, ...] = ()
    collect: Collect | None = None
    action: Action | None = None
    ended: bool = False


# --- what comes in -------------------------------------------------------------------


@dataclass(frozen=True)
class Keys:
    keys: str  # without the closing #


@dataclass(frozen=True)
class Timeout:
    pass


@dataclass(frozen=True)
class HangUp:
    pass


@dataclass(frozen=True)
class SignedIn:
    outcome: Outcome
    retry_after: int = 0
    patron_id: int | None = None


@dataclass(frozen=True)
class LoanDue:
    due_on: date
    overdue: bool


@dataclass(frozen=True)
class Loans:
    loans: tuple[LoanDue, ...]


@dataclass(frozen=True)
class Renewal:
    position: int
    due_on: date | None  # the new due date, when renewed
    refusal: str | None = None  # the reason code, otherwise


@dataclass(frozen=True)
class Renewed:
    renewals: tuple[Renewal, ...]
    one: bool  # the answer to RenewOne (else RenewAll)


@dataclass(frozen=True)
class Fines:
    cents: int
    currency: str


@dataclass(frozen=True)
class Unavailable:
    """The action could not be done now (the service is busy or down)."""


Event = Keys | Timeout | HangUp | SignedIn | Loans | Renewed | Fines | Unavailable


class NotExpected(Exception):
    """An event the call's step does not read (the driver refuses the request)."""


# --- the call's state ----------------------------------------------------------------


@dataclass(frozen=True)
class Call:
    step: Step
    language: str
    tries: int = 0  # at the current question
    failures: int = 0  # wrong card number or PIN pairs
    cards: tuple[str, ...] = ()  # the card number keyed, until the PIN comes
    patron_id: int | None = None
    last: tuple[Say, ...] = ()  # what "0" repeats

    def to_data(self) -> dict[str, Any]:
        return {
            "step": self.step.value,
            "language": self.language,
            "tries": self.tries,
            "failures": self.failures,
            "cards": list(self.cards),
            "patron_id": self.patron_id,
            "last": [_say_data(s) for s in self.last],
        }

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> Call:
        return cls(
            step=Step(data["step"]),
            language=str(data["language"]),
            tries=int(data["tries"]),
            failures=int(data["failures"]),
            cards=tuple(str(c) for c in data["cards"]),
            patron_id=None if data["patron_id"] is None else int(data["patron_id"]),
            last=tuple(_say_from(s) for s in data["last"]),
        )


def _say_data(say: Say) -> dict[str, Any]:
    params = {
        k: {"date": v.isoformat()} if isinstance(v, date) else v for k, v in say.params.items()
    }
    return {"key": say.key, "params": params, "language": say.language}


def _say_from(data: Mapping[str, Any]) -> Say:
    params: dict[str, Param] = {}
    for k, v in data["params"].items():
        params[k] = date.fromisoformat(v["date"]) if isinstance(v, dict) else v
    return Say(data["key"], params, data["language"])


# --- the prompts ---------------------------------------------------------------------

_ONE_KEY = Collect(1, finish_on_hash=False)
_ENTRY = Collect(MAX_KEYS, finish_on_hash=True)
_GOODBYE = Say("goodbye")

LANGUAGE_MENU = (
    Say("welcome", language="yue"),
    Say("language.choose", language="yue"),
    Say("language.choose", language="cmn"),
    Say("language.choose", language="en"),
)
MENU = Say("menu")


def _card_prompt(line: TelephoneLine) -> tuple[Say, ...]:
    if line.letters is KeyedLetters.POSITION:
        return (Say("card.enter"), Say("card.letters_position"))
    return (Say("card.enter"), Say("card.letters_digits"))


def begin(line: TelephoneLine, offered: bool) -> tuple[Call, Turn]:
    """A new call: the language menu, or only "not offered" where there is no line."""
    if not offered:
        said = tuple(Say("not_offered", language=lang) for lang in LANGUAGE_KEYS.values())
        return Call(Step.ENDED, line.default_language), Turn(said, ended=True)
    return Call(Step.LANGUAGE, line.default_language), Turn(LANGUAGE_MENU, _ONE_KEY)


def advance(call: Call, event: Event, line: TelephoneLine) -> tuple[Call, Turn]:
    """The next state and turn; raises NotExpected for an event the step does not read."""
    if call.step is Step.ENDED:
        raise NotExpected(call.step.value)
    if isinstance(event, HangUp):
        return replace(call, step=Step.ENDED, cards=()), Turn(ended=True)
    handler = _HANDLERS.get((call.step, type(event)))
    if handler is None:
        raise NotExpected(call.step.value)
    return handler(call, event, line)


def _end(call: Call, *said: Say) -> tuple[Call, Turn]:
    return replace(call, step=Step.ENDED, cards=()), Turn((*said, _GOODBYE), ended=True)


def _again(call: Call, why: str, prompt: tuple[Say, ...], collect: Collect) -> tuple[Call, Turn]:
    """A question asked once more, or the goodbye after the third try."""
    tries = call.tries + 1
    if tries >= TRIES:
        return _end(call, Say(why), Say("too_many_tries"))
    return replace(call, tries=tries), Turn((Say(why), *prompt), collect)


def _ask(call: Call, step: Step, said: tuple[Say, ...], collect: Collect) -> tuple[Call, Turn]:
    return replace(call, step=step, tries=0), Turn(said, collect)


def _menu(call: Call, said: tuple[Say, ...]) -> tuple[Call, Turn]:
    call, turn = _ask(call, Step.MENU, (*said, MENU), _ONE_KEY)
    return replace(call, last=said), turn


def _work(call: Call, action: Action) -> tuple[Call, Turn]:
    return replace(call, step=Step.WORKING, tries=0), Turn(action=action)


# --- the transitions -----------------------------------------------------------------


def _language_keys(call: Call, event: Keys, line: TelephoneLine) -> tuple[Call, Turn]:
    language = LANGUAGE_KEYS.get(event.keys)
    if language is None:
        return _again(call, "entry.invalid", LANGUAGE_MENU[1:], _ONE_KEY)
    return _ask(replace(call, language=language), Step.CARD, _card_prompt(line), _ENTRY)


def _language_timeout(call: Call, event: Timeout, line: TelephoneLine) -> tuple[Call, Turn]:
    return _ask(
        replace(call, language=line.default_language), Step.CARD, _card_prompt(line), _ENTRY
    )


def _card_keys(call: Call, event: Keys, line: TelephoneLine) -> tuple[Call, Turn]:
    cards = card_numbers(event.keys, line)
    if not cards:
        return _again(call, "entry.invalid", _card_prompt(line), _ENTRY)
    return _ask(replace(call, cards=cards), Step.PIN, (Say("pin.enter"),), _ENTRY)


def _card_timeout(call: Call, event: Timeout, line: TelephoneLine) -> tuple[Call, Turn]:
    return _again(call, "entry.none", _card_prompt(line), _ENTRY)


def _pin_keys(call: Call, event: Keys, line: TelephoneLine) -> tuple[Call, Turn]:
    pin = event.keys
    # Digits, and * (a special character, for profiles whose PINs need one).
    if not pin or pin.strip("0123456789*") or len(pin) > MAX_PIN:
        return _again(call, "entry.invalid", (Say("pin.enter"),), _ENTRY)
    cards = call.cards
    return _work(replace(call, cards=()), SignIn(cards, pin))


def _pin_timeout(call: Call, event: Timeout, line: TelephoneLine) -> tuple[Call, Turn]:
    return _again(call, "entry.none", (Say("pin.enter"),), _ENTRY)


# What each refusal of a correct PIN says before the goodbye.
_OUTCOME_SAYS = {
    Outcome.SUSPENDED: "signin.suspended",
    Outcome.BARRED: "signin.barred",
    Outcome.PENDING_REGISTRATION: "signin.pending_registration",
    Outcome.CHANGE_REQUIRED: "signin.change_required",
    Outcome.MUST_CHANGE: "signin.change_required",
    Outcome.TEMPORARY_EXPIRED: "signin.temporary_expired",
    Outcome.THROTTLED: "service.busy",
}


def _signed_in(call: Call, event: SignedIn, line: TelephoneLine) -> tuple[Call, Turn]:
    if event.outcome is Outcome.OK and event.patron_id is not None:
        return _menu(replace(call, patron_id=event.patron_id, failures=0), (Say("signin.ok"),))
    if event.outcome is Outcome.INVALID:
        failures = call.failures + 1
        if failures >= TRIES:
            return _end(call, Say("signin.invalid"), Say("too_many_tries"))
        call = replace(call, failures=failures)
        return _ask(call, Step.CARD, (Say("signin.invalid"), *_card_prompt(line)), _ENTRY)
    if event.outcome is Outcome.BLOCKED:
        minutes = max(1, -(-event.retry_after // 60))
        return _end(call, Say("signin.blocked", {"minutes": minutes}))
    return _end(call, Say(_OUTCOME_SAYS.get(event.outcome, "service.busy")))


def _menu_keys(call: Call, event: Keys, line: TelephoneLine) -> tuple[Call, Turn]:
    match event.keys:
        case "1":
            return _work(call, ListLoans())
        case "2":
            return _work(call, RenewAll())
        case "3":
            return _ask(call, Step.POSITION, (Say("renew.which"),), _ENTRY)
        case "4":
            return _work(call, HearFines())
        case "0":
            return _menu(call, call.last)
        case "9":
            return _end(call)
    return _again(call, "entry.invalid", (MENU,), _ONE_KEY)


def _menu_timeout(call: Call, event: Timeout, line: TelephoneLine) -> tuple[Call, Turn]:
    return _again(call, "entry.none", (MENU,), _ONE_KEY)


def _position_keys(call: Call, event: Keys, line: TelephoneLine) -> tuple[Call, Turn]:
    keys = event.keys
    if not keys.isdigit() or not 1 <= int(keys) <= MAX_POSITION:
        return _again(call, "entry.invalid", (Say("renew.which"),), _ENTRY)
    return _work(call, RenewOne(int(keys)))


def _position_timeout(call: Call, event: Timeout, line: TelephoneLine) -> tuple[Call, Turn]:
    return _again(call, "entry.none", (Say("renew.which"),), _ENTRY)


def _loans(call: Call, event: Loans, line: TelephoneLine) -> tuple[Call, Turn]:
    if not event.loans:
        return _menu(call, (Say("loans.none"),))
    said = [Say("loans.count", {"count": len(event.loans)})]
    for position, loan in enumerate(event.loans, start=1):
        key = "loans.overdue" if loan.overdue else "loans.due"
        said.append(Say(key, {"position": position, "date": loan.due_on}))
    return _menu(call, tuple(said))


def _renewal(renewal: Renewal) -> tuple[Say, ...]:
    at = {"position": renewal.position}
    if renewal.refusal == "loan.not_found":
        return (Say("renew.no_such_item", at),)
    if renewal.refusal is not None:
        return (Say("renew.refused", at), Say(renewal.refusal))
    assert renewal.due_on is not None
    return (Say("renew.renewed", {**at, "date": renewal.due_on}),)


def _renewed(call: Call, event: Renewed, line: TelephoneLine) -> tuple[Call, Turn]:
    if not event.one and not event.renewals:
        return _menu(call, (Say("loans.none"),))
    said: list[Say] = []
    if not event.one:
        done = sum(1 for r in event.renewals if r.refusal is None)
        said.append(Say("renew.summary", {"renewed": done, "refused": len(event.renewals) - done}))
    for renewal in event.renewals:
        said.extend(_renewal(renewal))
    return _menu(call, tuple(said))


def _fines(call: Call, event: Fines, line: TelephoneLine) -> tuple[Call, Turn]:
    if event.cents <= 0:
        return _menu(call, (Say("fines.none"),))
    amount = f"{event.currency}{event.cents // 100}.{event.cents % 100:02d}"
    return _menu(call, (Say("fines.owed", {"amount": amount}),))


def _unavailable(call: Call, event: Unavailable, line: TelephoneLine) -> tuple[Call, Turn]:
    return _end(call, Say("service.busy"))


_Handler = Callable[[Call, Any, TelephoneLine], tuple[Call, Turn]]

_HANDLERS: dict[tuple[Step, type], _Handler] = {
    (Step.LANGUAGE, Keys): _language_keys,
    (Step.LANGUAGE, Timeout): _language_timeout,
    (Step.CARD, Keys): _card_keys,
    (Step.CARD, Timeout): _card_timeout,
    (Step.PIN, Keys): _pin_keys,
    (Step.PIN, Timeout): _pin_timeout,
    (Step.MENU, Keys): _menu_keys,
    (Step.MENU, Timeout): _menu_timeout,
    (Step.POSITION, Keys): _position_keys,
    (Step.POSITION, Timeout): _position_timeout,
    (Step.WORKING, SignedIn): _signed_in,
    (Step.WORKING, Loans): _loans,
    (Step.WORKING, Renewed): _renewed,
    (Step.WORKING, Fines): _fines,
    (Step.WORKING, Unavailable): _unavailable,
}
