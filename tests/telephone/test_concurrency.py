"""Two hundred calls at once, half on each platform: each call's state stays its own,
every caller hears their own loans, and every call ends with nothing left behind."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from patronauth.bootstrap import App
from patronauth.telephone.keyed import keyed_form
from tests.support import clock_of, register
from tests.telephone.callers import Caller, TwilioCaller, VoiceXmlCaller
from tests.telephone.library import Library

pytestmark = pytest.mark.anyio

CALLS = 200
PIN = "4567"  # every caller's default PIN: the last four digits of 9123 4567


async def whole_call(caller: Caller, card: str) -> str:
    await caller.dial(f"+852 5{caller.call_id[-7:]}")
    await caller.press("3")
    await caller.press(keyed_form(card))
    menu = await caller.press(PIN)
    assert menu.collects, menu.text
    loans = await caller.press("1")
    assert loans.status == 200, loans.body
    bye = await caller.press("9")
    assert bye.ended, bye.body
    return loans.text


async def test_two_hundred_calls_at_once(line: App, client: httpx.AsyncClient) -> None:
    library = Library(line)
    cards = [f"HKPL{1000 + n}" for n in range(CALLS)]
    for n, card in enumerate(cards):
        register(line, "hkpl", card, phone="9123 4567")
        if n % 3:
            library.lend(card, n % 3)
    VoiceXmlCaller.now = int(clock_of(line).now().timestamp())
    callers = [
        (TwilioCaller if n % 2 else VoiceXmlCaller)(client, "hkpl", f"CA{n:032d}")
        for n in range(CALLS)
    ]
    heard = await asyncio.gather(
        *(whole_call(caller, card) for caller, card in zip(callers, cards, strict=True))
    )
    for n, text in enumerate(heard):
        expected = f"Items on loan: {n % 3}." if n % 3 else "You have no items on loan."
        assert expected in text, (n, text)
    calls = library.calls()
    assert len(calls) == CALLS
    assert {(state, turn) for _, state, turn in calls} == {("", "")}
    sign_ins = library.audit("sign_in")
    assert len(sign_ins) == CALLS
    assert {(e.outcome, e.channel) for e in sign_ins} == {("ok", "telephone")}
