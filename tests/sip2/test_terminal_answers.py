"""The self-service answers over the wire, as a kiosk sees them: terminal options
(PIN-less patrons), a locked-out card told in the patron's language with the time
left, the summary window of 63, fines and their currency, and a terminal that serves
only its own institution."""

from __future__ import annotations

from patronauth.bootstrap import App
from patronauth.domain.terminals import TerminalOptions
from patronauth.presentation.i18n import message
from patronauth.services.catalogue import add_item
from patronauth.services.loans import checkout
from patronauth.services.terminals import add_terminal
from patronauth.sip2.messages import BLANK_DATE, parse
from patronauth.sip2.server import Sip2Server
from tests.sip2.conftest import (
    ITEMS,
    NAME,
    PATRON,
    PIN,
    TERMINAL_PASSWORD,
    connect,
    patron_status,
    request,
)
from tests.sip2.test_wire import checked
from tests.support import STAFF, clock_of, register


def information(pin: str | None = PIN, summary: str = " " * 10, *window: tuple[str, str]) -> bytes:
    fields = [("AO", "hkpl"), ("AA", PATRON)]
    if pin is not None:
        fields.append(("AD", pin))
    return request(
        "63",
        {"language": "001", "date": BLANK_DATE, "summary": summary},
        *fields,
        *window,
    )


def test_a_pinless_terminal_accepts_an_empty_pin(server: Sip2Server, library: App) -> None:
    add_terminal(
        library.ports,
        login="kiosk-open",
        institution="hkpl",
        password=TERMINAL_PASSWORD,
        options=TerminalOptions(allow_pinless=True),
        staff=STAFF,
    )
    with connect(server, login="kiosk-open") as t:
        empty = checked(t.ask(patron_status(pin="")))
        wrong = checked(t.ask(patron_status(pin="9999")))
    with connect(server) as t:
        elsewhere = checked(t.ask(patron_status(pin="")))
    assert (empty["BL"], empty["CQ"], empty["AE"]) == ("Y", "Y", NAME)
    assert (wrong["BL"], wrong["CQ"], wrong["AE"]) == ("Y", "N", "")
    assert (elsewhere["BL"], elsewhere["CQ"], elsewhere["AE"]) == ("Y", "N", "")
    assert elsewhere["AF"] == message("sip2.pin_required")


def test_a_locked_out_card_is_told_in_the_patrons_language_with_the_time_left(
    server: Sip2Server, library: App
) -> None:
    register(
        library, "hkpl", "HKPL0002", name="Lee Siu Ming", phone="6123 9876", language="zh_Hant"
    )
    with connect(server) as t:
        for _ in range(5):
            assert checked(t.ask(patron_status("HKPL0002", "1111")))["CQ"] == "N"
        blocked = checked(t.ask(patron_status("HKPL0002", "9876")))
    assert (blocked["BL"], blocked["CQ"], blocked["AE"]) == ("Y", "N", "")
    assert blocked["patron_status"].startswith("YYYY")
    assert blocked["AF"] == message("sip2.blocked", "zh_Hant", minutes=1)
    assert "1 分鐘" in blocked["AF"]
    assert blocked["language"] != "001"  # the patron's language, not the terminal's
    clock_of(library).advance(61)
    with connect(server) as t:
        assert checked(t.ask(patron_status("HKPL0002", "9876")))["CQ"] == "Y"


def test_the_summary_window_fines_and_currency(server: Sip2Server, library: App) -> None:
    for item in ITEMS:
        checkout(library.ports, PATRON, item, actor=STAFF, channel="staff")
    with connect(server) as t:
        frame = t.ask(information(PIN, "  Y       ", ("BP", "2"), ("BQ", "3")))
        whole = t.ask(information(PIN, "  Y       "))
        nothing = checked(t.ask(information(PIN)))
    assert parse(frame[:-1].decode()).all("AU") == list(ITEMS[1:3])
    assert parse(whole[:-1].decode()).all("AU") == list(ITEMS)
    assert checked(frame)["charged_count"] == "0003"
    assert "AU" not in nothing
    assert "BV" not in nothing
    clock_of(library).advance(23 * 86400)  # two days overdue: HK$1.50 a day per item
    with connect(server) as t:
        late = checked(t.ask(information(PIN, "   Y      ")))
        overdue = t.ask(information(PIN, " Y        ", ("BP", "1"), ("BQ", "1")))
    assert (late["overdue_count"], late["fine_count"]) == ("0003", "0003")
    assert (late["BV"], late["BH"]) == ("9.00", "HKD")
    assert parse(overdue[:-1].decode()).all("AT") == [ITEMS[0]]


def test_a_wrong_pin_or_no_pin_tells_nothing_of_the_account(server: Sip2Server) -> None:
    with connect(server) as t:
        wrong = checked(t.ask(information("9999", "  Y       ")))
    assert (wrong["BL"], wrong["CQ"], wrong["AE"]) == ("Y", "N", "")
    assert wrong["charged_count"] == "0000"
    assert "BE" not in wrong


def test_a_terminal_serves_only_its_institution(server: Sip2Server, library: App) -> None:
    register(library, "hku", "CU1234567")
    add_item(library.ports, "hku", barcode="HKU0001", title="A HKU book", staff=STAFF)
    with connect(server) as t:
        stranger = checked(t.ask(patron_status("CU1234567", "1234")))
        item = checked(
            t.ask(request("17", {"date": BLANK_DATE}, ("AO", "hkpl"), ("AB", "HKU0001")))
        )
    assert (stranger["BL"], stranger["CQ"], stranger["AE"]) == ("N", "N", "")
    assert stranger["patron_status"] == "YYYY" + " " * 10
    assert (item["circulation_status"], item["AJ"]) == ("01", "")
