"""A telephone box (an IVR) that speaks SIP2: a terminal added with `--channel telephone`
has its PIN checks counted and audited as the telephone channel, and its renewals too;
the other terminals stay `sip2`."""

from __future__ import annotations

import pytest

from patronauth.bootstrap import App
from patronauth.domain.credentials import Channel
from patronauth.domain.terminals import TerminalOptions
from patronauth.services.interfaces import AuditEvent
from patronauth.services.terminals import add_terminal, set_terminal_options
from patronauth.sip2.messages import BLANK_DATE
from patronauth.sip2.server import Sip2Server
from tests.sip2.conftest import ITEMS, PATRON, PIN, TERMINAL_PASSWORD, connect, request
from tests.sip2.test_lockout import sip2_pin
from tests.sip2.test_wire import checked
from tests.support import STAFF


@pytest.fixture
def phone_box(library: App) -> App:
    add_terminal(
        library.ports, login="ivr1", institution="hkpl", password=TERMINAL_PASSWORD,
        options=TerminalOptions(channel=Channel.TELEPHONE), staff=STAFF,
    )  # fmt: skip
    return library


def events(app: App, action: str) -> list[AuditEvent]:
    with app.ports.uow() as uow:
        return [e.event for e in uow.audit.recent(limit=500) if e.event.action == action]


def lend(code: str, item: str) -> bytes:
    fixed = (
        {"renewal_policy": "N", "no_block": "N"}
        if code == "11"
        else {"third_party": "N", "no_block": "N"}
    )
    return request(
        code, {**fixed, "date": BLANK_DATE, "nb_due_date": BLANK_DATE},
        ("AO", "hkpl"), ("AA", PATRON), ("AB", item), ("AD", PIN),
    )  # fmt: skip


def test_a_telephone_box_counts_and_audits_as_the_telephone_channel(
    server: Sip2Server, phone_box: App
) -> None:
    with connect(server, login="kiosk1") as kiosk:
        assert checked(kiosk.ask(lend("11", ITEMS[0])))["ok"] == "1"
    with connect(server, login="ivr1") as box:
        wrong = sip2_pin(box, "9999")
        assert (wrong["BL"], wrong["CQ"]) == ("Y", "N")
        renewed = checked(box.ask(lend("29", ITEMS[0])))
    assert renewed["ok"] == "1"
    sign_ins = events(phone_box, "sign_in")
    by_channel = sorted((e.channel, e.outcome) for e in sign_ins)
    assert by_channel == [("sip2", "ok"), ("telephone", "invalid"), ("telephone", "ok")]
    assert [e.channel for e in events(phone_box, "renewal")] == ["telephone"]


def test_the_option_can_be_changed_back(server: Sip2Server, phone_box: App) -> None:
    set_terminal_options(phone_box.ports, "ivr1", staff=STAFF, channel=Channel.SIP2)
    with connect(server, login="ivr1") as box:
        sip2_pin(box, "9999")
    assert [e.channel for e in events(phone_box, "sign_in")] == ["sip2"]
