"""One request of a call, for either platform: the call's state is taken from the server
by the platform's call id, the dialogue is advanced, its actions are done through the
use cases, and the state is stored again. The platform adapters only parse their
requests and write their markup around the `Answer`.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass

from patronauth.domain.credentials import Channel, Outcome
from patronauth.domain.errors import Busy, InvalidInput, NotFound, Refused
from patronauth.domain.profile import Profile
from patronauth.services.authenticate import Attempt
from patronauth.services.interfaces import Ports
from patronauth.services.loans import renew_all, renew_loan
from patronauth.services.record import LoanView, record
from patronauth.services.signin import sign_in
from patronauth.services.telephone import hang_up, keyed_card, open_call, save_call, take_turn
from patronauth.telephone import dialogue as d
from patronauth.telephone.keyed import MAX_KEYS, well_formed
from patronauth.telephone.speech import Spoken, speak

log = logging.getLogger("patronauth.telephone")

CHANNEL = Channel.TELEPHONE
_CALL_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,63}")


class Refusal(Exception):
    """A request the line does not act on; `code` says why (docs/telephone.md)."""

    def __init__(self, code: str, status: int = 400, **params: int) -> None:
        super().__init__(code)
        self.code = code
        self.status = status
        self.params = params


@dataclass(frozen=True)
class Answer:
    spoken: tuple[Spoken, ...]
    collect: d.Collect | None
    ended: bool
    turn: str  # what the next request must carry; "" once the call has ended
    language: str


def masked_number(raw: str) -> str:
    """A caller's number as logs and audit records may show it: the last two digits."""
    digits = "".join(ch for ch in raw if ch.isdigit())
    if len(digits) < 6:
        return "*" * len(digits)
    return "*" * (len(digits) - 2) + digits[-2:]


def checked_call_id(raw: str) -> str:
    if not _CALL_ID.fullmatch(raw):
        raise Refusal("call.id_invalid")
    return raw


def checked_keys(raw: str) -> str:
    """The keys of a request: keypad keys only, not too many; a closing # dropped."""
    keys = raw.strip().replace(" ", "")
    if not well_formed(keys):
        raise Refusal("call.keys_invalid", max=MAX_KEYS)
    return keys.removesuffix("#")


class Line:
    """The telephone line of one platform (`twilio`, `voicexml`) over the use cases."""

    def __init__(self, ports: Ports, platform: str) -> None:
        self.ports = ports
        self.platform = platform

    def profile(self, institution: str) -> Profile:
        try:
            return self.ports.profiles.get(institution)
        except Refused:
            raise Refusal("call.institution_unknown", 404) from None

    def start(self, institution: str, call_id: str, caller: str) -> Answer:
        profile = self.profile(institution)
        call_id = checked_call_id(call_id)
        call, turn = d.begin(profile.telephone, profile.telephone_offered)
        token = "" if turn.ended else self.ports.randomness.token()
        source = f"telephone:{masked_number(caller)}"
        if not turn.ended:
            stored = json.dumps({"call": call.to_data(), "source": source})
            if not open_call(self.ports, self.platform, call_id, institution, stored, token):
                raise Refusal("call.replayed", 409)
        log.info(
            "telephone call started",
            extra={"event": "call.start", "platform": self.platform, "caller": source,
                   "institution": institution, "offered": not turn.ended},
        )  # fmt: skip
        return Answer(speak(turn.say, call.language), turn.collect, turn.ended, token, "yue")

    def next(self, institution: str, call_id: str, turn: str, event: d.Event) -> Answer:
        profile = self.profile(institution)
        call_id = checked_call_id(call_id)
        token = self.ports.randomness.token()
        stored = take_turn(self.ports, self.platform, call_id, institution, turn, token)
        if stored is None:
            raise Refusal("call.unknown", 404)
        data = json.loads(stored.state)
        call = d.Call.from_data(data["call"])
        said: list[d.Say] = []
        try:
            call, out = d.advance(call, event, profile.telephone)
            while out.action is not None:
                said.extend(out.say)
                result = self._perform(out.action, call, institution, str(data["source"]))
                call, out = d.advance(call, result, profile.telephone)
        except d.NotExpected:
            # The dialogue reads no such event now: the call is not changed.
            save_call(self.ports, self.platform, call_id, stored.state, ended=False)
            raise Refusal("call.event_unexpected", 409) from None
        said.extend(out.say)
        if out.ended:
            save_call(self.ports, self.platform, call_id, "", ended=True)
            log.info(
                "telephone call ended",
                extra={"event": "call.end", "platform": self.platform, "caller": data["source"]},
            )
        else:
            data["call"] = call.to_data()
            save_call(self.ports, self.platform, call_id, json.dumps(data), ended=False)
        spoken = speak(tuple(said), call.language)
        return Answer(spoken, out.collect, out.ended, "" if out.ended else token, call.language)

    def hang_up(self, call_id: str) -> bool:
        return hang_up(self.ports, self.platform, checked_call_id(call_id))

    # -- the actions ------------------------------------------------------------------

    def _perform(self, action: d.Action, call: d.Call, institution: str, source: str) -> d.Event:
        try:
            if isinstance(action, d.SignIn):
                return self._sign_in(action, institution, source)
            assert call.patron_id is not None, "only a signed-in call has these actions"
            if isinstance(action, d.ListLoans):
                return d.Loans(
                    tuple(d.LoanDue(v.loan.due_on, v.overdue) for v in self._loans(call))
                )
            if isinstance(action, d.RenewAll):
                return self._renew_all(call)
            if isinstance(action, d.RenewOne):
                return self._renew_one(call, action.position)
            account = record(self.ports, call.patron_id)
            return d.Fines(account.standing.balance, account.profile.currency)
        except Busy:
            return d.Unavailable()

    def _sign_in(self, action: d.SignIn, institution: str, source: str) -> d.Event:
        card = keyed_card(self.ports, institution, action.cards)
        try:
            # The one sign-in use case, without a session: the telephone keeps none.
            result = sign_in(
                self.ports,
                Attempt(card, action.pin, CHANNEL, source=source, institution=institution),
            ).result
        except InvalidInput:
            # Keys that are no card number at all: the answer of an unknown card.
            return d.SignedIn(Outcome.INVALID)
        return d.SignedIn(result.outcome, result.retry_after, result.patron_id)

    def _loans(self, call: d.Call) -> list[LoanView]:
        assert call.patron_id is not None
        # The order a caller hears and renews by: borrowed first, first.
        return sorted(record(self.ports, call.patron_id).loans, key=lambda v: v.loan.id)

    def _renew_all(self, call: d.Call) -> d.Event:
        assert call.patron_id is not None
        positions = {v.loan.id: n for n, v in enumerate(self._loans(call), start=1)}
        results = renew_all(self.ports, call.patron_id, channel=CHANNEL.value)
        renewals = tuple(
            d.Renewal(positions.get(r.loan_id, 0), r.due_on, r.refusal.code if r.refusal else None)
            for r in sorted(results, key=lambda r: positions.get(r.loan_id, 0))
        )
        return d.Renewed(renewals, one=False)

    def _renew_one(self, call: d.Call, position: int) -> d.Event:
        assert call.patron_id is not None
        loans = self._loans(call)
        if not 1 <= position <= len(loans):
            return d.Renewed((d.Renewal(position, None, "loan.not_found"),), one=True)
        loan_id = loans[position - 1].loan.id
        try:
            due = renew_loan(self.ports, call.patron_id, loan_id, channel=CHANNEL.value)
        except NotFound:
            return d.Renewed((d.Renewal(position, None, "loan.not_found"),), one=True)
        except Refused as refusal:
            return d.Renewed((d.Renewal(position, None, refusal.code),), one=True)
        return d.Renewed((d.Renewal(position, due, None),), one=True)
