"""The self-service use cases behind SIP2 (SPEC 4.5, docs/terminals.md "The PIN
question") over storage, on SQLite and PostgreSQL: the PIN answer, lockout
shared with the web and the app, blocked, suspended and barred patrons, the status
flags and counts from the circulation core, and lending at a terminal, which serves
only its own institution."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import date, timedelta

import httpx
import pytest

from patronauth.asgi import create
from patronauth.bootstrap import App
from patronauth.domain.circulation import HoldStatus
from patronauth.domain.credentials import Channel, Outcome
from patronauth.domain.errors import Violation
from patronauth.domain.patrons import PatronStatus
from patronauth.domain.terminals import Terminal, TerminalOptions
from patronauth.services import selfservice as ss
from patronauth.services import terminals as term
from patronauth.services.catalogue import add_item
from patronauth.services.holds import place_reservation
from patronauth.services.interfaces import AuditEvent
from patronauth.services.loans import checkout
from patronauth.services.lookup import find_patron
from patronauth.services.record import record
from patronauth.sip2.fields import (
    PRIVILEGES_DENIED,
    CirculationStatus,
    PatronFlag,
    circulation_status,
    currency_code,
    patron_flags,
    patron_status,
)
from tests.support import STAFF, attempt, clock_of, register

TODAY = date(2026, 11, 24)  # the test clock's date in Hong Kong
DAY = timedelta(days=1)
PIN = "4567"  # HKPL's default PIN, accepted at terminals (S5)
WRONG = "9999"
SOURCE = "sip2:10.0.0.5"
BLANK = " " * 14
UNKNOWN_STATUS = "YYYY" + " " * 10


def field(answer: ss.PatronAnswer) -> str:
    """The patron status field a terminal receives for this answer."""
    return patron_status(answer.restrictions)


def flags(answer: ss.PatronAnswer) -> frozenset[PatronFlag]:
    return patron_flags(answer.restrictions)


@pytest.fixture
def hkpl(app: App) -> App:
    register(
        app,
        "hkpl",
        "HKPL0001",
        name="Chan Tai Man",
        phone="9123 4567",
        email="chan@example.org",
        language="zh_Hant",
    )
    register(app, "hkpl", "HKPL0002", name="Lee Siu Ming", phone="6123 9876")
    return app


def kiosk(
    app: App,
    login: str = "kiosk1",
    institution: str = "hkpl",
    options: TerminalOptions | None = None,
) -> Terminal:
    return term.add_terminal(
        app.ports,
        login=login,
        institution=institution,
        password="kiosk-Secret-2026",
        options=options or TerminalOptions(),
        staff=STAFF,
    )


def copy(app: App, barcode: str, title: str = "Dream of the Red Chamber", **more: str) -> int:
    institution = more.pop("institution", "hkpl")
    item = add_item(app.ports, institution, barcode=barcode, title=title, staff=STAFF, **more)
    return item.title_id


def patron_id(app: App, barcode: str) -> int:
    with app.ports.uow() as uow:
        found = find_patron(uow, app.ports.profiles, barcode)
    assert found is not None
    return found.patron.id


def audit(app: App) -> list[AuditEvent]:
    with app.ports.uow() as uow:
        return [stored.event for stored in reversed(uow.audit.recent(limit=500))]


def status(
    app: App, pin: str | None, identifier: str = "HKPL0001", **options: bool
) -> ss.PatronAnswer:
    if options:
        terminal = kiosk(app, f"k{len(audit(app))}", options=TerminalOptions(**options))  # type: ignore[arg-type]
    else:
        terminal = kiosk_of(app)
    return ss.patron_status(app.ports, terminal, identifier, pin, source=SOURCE)


def kiosk_of(app: App) -> Terminal:
    try:
        return term.get_terminal(app.ports, "kiosk1")
    except Exception:
        return kiosk(app)


# --- the PIN question ----------------------------------------------------------------------


def test_the_right_pin_answers_yes_to_both_and_tells_the_patron_data(hkpl: App) -> None:
    answer = status(hkpl, PIN)
    assert (answer.valid_patron, answer.valid_pin) == (True, True)
    assert field(answer) == BLANK
    assert (answer.name, answer.email, answer.phone) == (
        "Chan Tai Man",
        "chan@example.org",
        "91******",
    )
    assert answer.language == "zh_Hant"
    assert (answer.currency, currency_code(answer.currency)) == ("HK$", "HKD")
    assert answer.screen == ()
    [event] = [e for e in audit(hkpl) if e.action == "sign_in"]
    assert (event.channel, event.outcome, event.source) == ("sip2", "ok", SOURCE)
    assert event.detail["credential"] == "pin"


@pytest.mark.parametrize("pin", [None, "", PIN, WRONG])
@pytest.mark.parametrize("identifier", ["HKPL9999", "HKPL\x000001", "", "x" * 300])
def test_an_unknown_identifier_is_not_valid_and_gets_cqn_whatever_the_pin(
    hkpl: App, identifier: str, pin: str | None
) -> None:
    answer = status(hkpl, pin, identifier)
    assert (answer.valid_patron, answer.valid_pin) == (False, False)
    assert field(answer) == UNKNOWN_STATUS
    assert (answer.name, answer.email, answer.phone, answer.language) == ("", "", "", None)
    assert answer.screen == (Violation("sip2.patron_unknown"),)


def test_a_wrong_pin_is_a_valid_patron_with_cqn_and_no_personal_data(hkpl: App) -> None:
    answer = status(hkpl, WRONG)
    assert (answer.valid_patron, answer.valid_pin) == (True, False)
    assert (answer.name, answer.email, answer.charged) == ("", "", 0)
    assert answer.screen == (Violation("sip2.pin_wrong"),)
    assert answer.language == "zh_Hant"
    [event] = [e for e in audit(hkpl) if e.action == "sign_in"]
    assert (event.channel, event.outcome) == ("sip2", "invalid")
    assert WRONG not in repr(event)


def test_a_terminal_may_answer_a_wrong_pin_as_an_unknown_card(hkpl: App) -> None:
    wrong = status(hkpl, WRONG, wrong_pin_as_unknown=True)
    unknown = status(hkpl, WRONG, "HKPL9999", wrong_pin_as_unknown=True)
    assert replace(wrong, identifier="") == replace(unknown, identifier="")
    assert field(wrong) == UNKNOWN_STATUS
    assert status(hkpl, PIN, wrong_pin_as_unknown=True).valid_pin is True


def test_an_empty_pin_gets_cqn_unless_the_terminal_allows_pinless_patrons(hkpl: App) -> None:
    refused = status(hkpl, "")
    assert (refused.valid_patron, refused.valid_pin, refused.name) == (True, False, "")
    assert refused.screen == (Violation("sip2.pin_required"),)
    allowed = status(hkpl, "", allow_pinless=True)
    assert (allowed.valid_patron, allowed.valid_pin, allowed.name) == (True, True, "Chan Tai Man")
    # No PIN was checked: nothing counts as an attempt.
    assert [e for e in audit(hkpl) if e.action == "sign_in"] == []


def test_no_pin_field_leaves_cq_out_and_tells_nothing_unless_the_terminal_allows_it(
    hkpl: App,
) -> None:
    refused = status(hkpl, None)
    assert (refused.valid_patron, refused.valid_pin, refused.name) == (True, None, "")
    assert (refused.email, refused.phone) == ("", "")
    assert flags(refused) >= PRIVILEGES_DENIED
    assert refused.screen == (Violation("sip2.pin_required"),)
    allowed = status(hkpl, None, allow_pinless=True)
    assert (allowed.valid_patron, allowed.valid_pin, allowed.name) == (True, None, "Chan Tai Man")
    assert field(allowed) == BLANK


@pytest.mark.parametrize("pin", [None, ""])
def test_without_a_pin_a_terminal_lends_and_tells_only_when_it_allows_pinless_patrons(
    hkpl: App, pin: str | None
) -> None:
    copy(hkpl, "B0001")
    strict = kiosk(hkpl, "strict")
    lent = ss.checkout(hkpl.ports, strict, "HKPL0001", "B0001", pin, source=SOURCE)
    assert (lent.ok, lent.screen) == (False, (Violation("sip2.pin_required"),))
    renewed = ss.renew_all(hkpl.ports, strict, "HKPL0001", pin, source=SOURCE)
    assert (renewed.ok, renewed.screen) == (False, (Violation("sip2.pin_required"),))
    info = ss.patron_information(
        hkpl.ports, strict, "HKPL0001", pin, source=SOURCE, summary=ss.ItemList.CHARGED
    )
    assert (info.name, info.charged, info.items) == ("", 0, ())
    pinless = kiosk(hkpl, "pinless", options=TerminalOptions(allow_pinless=True))
    assert ss.checkout(hkpl.ports, pinless, "HKPL0001", "B0001", pin, source=SOURCE).ok
    info = ss.patron_information(
        hkpl.ports, pinless, "HKPL0001", pin, source=SOURCE, summary=ss.ItemList.CHARGED
    )
    assert (info.name, info.items) == ("Chan Tai Man", ("B0001",))


def test_a_malformed_pin_is_wrong_and_never_stored(hkpl: App) -> None:
    for pin in ("45\x0067", "4" * 10_000):
        answer = status(hkpl, pin)
        assert (answer.valid_patron, answer.valid_pin) == (True, False)
        assert answer.screen == (Violation("sip2.pin_wrong"),)
    assert "\x00" not in repr(audit(hkpl))


# --- the lockout, shared with every channel (S3) ------------------------------------------


def test_five_wrong_pins_block_even_the_right_one_with_the_time_left(hkpl: App) -> None:
    for _ in range(5):
        assert status(hkpl, WRONG).valid_pin is False
    blocked = status(hkpl, PIN)
    assert (blocked.valid_patron, blocked.valid_pin) == (True, False)
    assert flags(blocked) >= PRIVILEGES_DENIED
    assert field(blocked).startswith("YYYY")
    assert blocked.screen == (Violation("sip2.blocked", {"seconds": 60, "minutes": 1}),)
    assert blocked.language == "zh_Hant"
    assert blocked.name == ""
    # Without a PIN the block shows too; a checkout is refused.
    assert status(hkpl, None).screen[0].code == "sip2.blocked"
    copy(hkpl, "B0001")
    lent = ss.checkout(hkpl.ports, kiosk_of(hkpl), "HKPL0001", "B0001", None, source=SOURCE)
    assert (lent.ok, lent.screen[0].code) == (False, "sip2.blocked")
    clock_of(hkpl).advance(61)
    assert status(hkpl, PIN).valid_pin is True


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def client(hkpl: App) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create(hkpl))
    async with httpx.AsyncClient(transport=transport, base_url="http://library.test") as c:
        yield c


async def api_sign_in(client: httpx.AsyncClient, secret: str) -> int:
    response = await client.post(
        "/api/v1/sessions", json={"identifier": "HKPL0001", "secret": secret}
    )
    return response.status_code


@pytest.mark.anyio
async def test_three_wrong_at_a_terminal_and_three_in_the_app_block_the_sixth(
    hkpl: App, client: httpx.AsyncClient
) -> None:
    for _ in range(3):
        assert status(hkpl, WRONG).valid_pin is False
    assert await api_sign_in(client, "Wrong#Pass1") == 401
    assert await api_sign_in(client, "Wrong#Pass1") == 401
    # The sixth attempt is blocked on either channel, with the right secret.
    assert await api_sign_in(client, PIN) == 429
    assert status(hkpl, PIN).screen[0].code == "sip2.blocked"


@pytest.mark.anyio
async def test_three_wrong_in_the_app_and_three_at_a_terminal_block_the_sixth(
    hkpl: App, client: httpx.AsyncClient
) -> None:
    for _ in range(3):
        assert await api_sign_in(client, "Wrong#Pass1") == 401
    assert status(hkpl, WRONG).screen == (Violation("sip2.pin_wrong"),)
    assert status(hkpl, WRONG).screen == (Violation("sip2.pin_wrong"),)
    blocked = status(hkpl, PIN)
    assert (blocked.valid_pin, blocked.screen[0].code) == (False, "sip2.blocked")
    assert await api_sign_in(client, PIN) == 429
    assert attempt(hkpl, "HKPL0001", PIN, Channel.WEB).outcome is Outcome.BLOCKED


def test_wrong_pins_at_checkout_count_in_the_same_lockout(hkpl: App) -> None:
    copy(hkpl, "B0001")
    terminal = kiosk_of(hkpl)
    for _ in range(3):
        lent = ss.checkout(hkpl.ports, terminal, "HKPL0001", "B0001", WRONG, source=SOURCE)
        assert (lent.ok, lent.screen) == (False, (Violation("sip2.pin_wrong"),))
    for _ in range(2):
        assert attempt(hkpl, "HKPL0001", "Wrong#Pass1", Channel.WEB).outcome is Outcome.INVALID
    lent = ss.checkout(hkpl.ports, terminal, "HKPL0001", "B0001", PIN, source=SOURCE)
    assert (lent.ok, lent.screen[0].code) == (False, "sip2.blocked")
    reader = patron_id(hkpl, "HKPL0001")
    with hkpl.ports.uow() as uow:
        assert uow.loans.open_loans(reader) == []


def test_a_suspended_pin_is_told_only_with_the_right_pin(hkpl: App) -> None:
    for _ in range(10):  # HKPL suspends a PIN after 10 consecutive failures
        status(hkpl, WRONG)
        clock_of(hkpl).advance(20)
    clock_of(hkpl).advance(3600)
    assert status(hkpl, WRONG).screen == (Violation("sip2.pin_wrong"),)
    suspended = status(hkpl, PIN)
    assert (suspended.valid_patron, suspended.valid_pin) == (True, False)
    assert flags(suspended) >= PRIVILEGES_DENIED
    assert suspended.screen == (Violation("sip2.pin_suspended"),)


def test_a_barred_patron_is_refused_even_with_the_right_pin(hkpl: App) -> None:
    reader = patron_id(hkpl, "HKPL0001")
    with hkpl.ports.uow() as uow:
        uow.patrons.set_status(reader, PatronStatus.BARRED)
        uow.commit()
    barred = status(hkpl, PIN)
    assert (barred.valid_patron, barred.valid_pin) == (True, False)
    assert flags(barred) == PRIVILEGES_DENIED
    assert barred.screen == (Violation("sip2.account_barred"),)
    copy(hkpl, "B0001")
    lent = ss.checkout(hkpl.ports, kiosk_of(hkpl), "HKPL0001", "B0001", PIN, source=SOURCE)
    assert (lent.ok, lent.screen) == (False, (Violation("sip2.account_barred"),))
    # Without a PIN, at a terminal serving patrons without one, the standing says it.
    pinless = kiosk(hkpl, "pinless", options=TerminalOptions(allow_pinless=True))
    lent = ss.checkout(hkpl.ports, pinless, "HKPL0001", "B0001", None, source=SOURCE)
    assert (lent.ok, lent.screen) == (False, (Violation("checkout.account_barred"),))
    assert flags(status(hkpl, None, allow_pinless=True)) == PRIVILEGES_DENIED


def test_a_default_pin_works_at_terminals_only_where_the_profile_says_so(app: App) -> None:
    register(app, "polyu", "21012345A", id_number="Z123456(1)")
    polyu = kiosk(app, "pu-kiosk", "polyu")
    answer = ss.patron_status(app.ports, polyu, "21012345A", "Z12345", source=SOURCE)
    assert (answer.valid_patron, answer.valid_pin) == (True, False)
    assert answer.screen == (Violation("sip2.pin_change_required"),)
    assert flags(answer) == PRIVILEGES_DENIED


def test_a_terminal_serves_only_its_institution(hkpl: App) -> None:
    register(hkpl, "hku", "CU1234567")
    hku = kiosk(hkpl, "cu-kiosk", "hku")
    answer = ss.patron_status(hkpl.ports, hku, "HKPL0001", PIN, source=SOURCE)
    assert (answer.valid_patron, answer.valid_pin, answer.name) == (False, False, "")
    copy(hkpl, "B0001")
    assert ss.item_information(hkpl.ports, hku, "B0001").found is False
    back = ss.checkin(hkpl.ports, hku, "B0001", source=SOURCE)
    assert (back.ok, back.screen) == (False, (Violation("item.not_found"),))
    # HKU's own item with the same barcode is a different item.
    copy(hkpl, "B0001", institution="hku")
    hkpl_kiosk = kiosk(hkpl)
    lent = ss.checkout(hkpl.ports, hkpl_kiosk, "HKPL0001", "B0001", PIN, source=SOURCE)
    assert lent.ok
    assert circulation_status(ss.item_information(hkpl.ports, hku, "B0001").status) is (
        CirculationStatus.AVAILABLE
    )


# --- the account behind the card -----------------------------------------------------------


@pytest.fixture
def shelf(hkpl: App) -> App:
    """HKPL0001 borrows B0001 and B0002 at a terminal, reserves a title on the shelf
    (set aside at once) and one out on loan to HKPL0002 (waiting)."""
    terminal = kiosk(hkpl)
    copy(hkpl, "B0001", "Dream of the Red Chamber", home_library="CEN")
    copy(hkpl, "B0002", "Journey to the West")
    shelf_title = copy(hkpl, "B0003", "Water Margin")
    out_title = copy(hkpl, "B0004", "Romance of the Three Kingdoms")
    for item in ("B0001", "B0002"):
        assert ss.checkout(hkpl.ports, terminal, "HKPL0001", item, PIN, source=SOURCE).ok
    assert ss.checkout(hkpl.ports, terminal, "HKPL0002", "B0004", "9876", source=SOURCE).ok
    reader = patron_id(hkpl, "HKPL0001")
    ready = place_reservation(hkpl.ports, reader, shelf_title, "KLN", channel="web")
    waiting = place_reservation(hkpl.ports, reader, out_title, "KLN", channel="web")
    assert (ready.status, waiting.status) == (HoldStatus.READY, HoldStatus.WAITING)
    return hkpl


def listed(
    app: App, which: ss.ItemList, start: int | None = None, end: int | None = None
) -> tuple[str, ...]:
    return ss.patron_information(
        app.ports,
        kiosk_of(app),
        "HKPL0001",
        PIN,
        source=SOURCE,
        summary=which,
        start=start,
        end=end,
    ).items


def test_counts_and_item_lists(shelf: App) -> None:
    info = ss.patron_information(
        shelf.ports, kiosk_of(shelf), "HKPL0001", PIN, source=SOURCE, summary=ss.ItemList.CHARGED
    )
    assert (info.charged, info.overdue, info.holds, info.unavailable_holds) == (2, 0, 1, 1)
    assert (info.fine_items, info.fines_owed, currency_code(info.currency), info.recall) == (
        0,
        0,
        "HKD",
        0,
    )
    assert info.items == ("B0001", "B0002")
    assert info.item_list is ss.ItemList.CHARGED
    assert info.loan_limit == 8
    assert field(info) == BLANK
    assert listed(shelf, ss.ItemList.CHARGED, 2, 2) == ("B0002",)
    assert listed(shelf, ss.ItemList.CHARGED, 3, 9) == ()
    assert listed(shelf, ss.ItemList.HOLDS) == ("B0003",)
    assert listed(shelf, ss.ItemList.UNAVAILABLE_HOLDS) == ("Romance of the Three Kingdoms",)
    assert listed(shelf, ss.ItemList.FINES) == ()
    assert listed(shelf, ss.ItemList.RECALL) == ()

    clock_of(shelf).advance(30 * 86400)  # due after 21 days: 9 days overdue, HK$1.50 a day
    info = ss.patron_information(shelf.ports, kiosk_of(shelf), "HKPL0001", PIN, source=SOURCE)
    # The copy set aside was not collected within 7 days: that reservation lapsed.
    assert (info.charged, info.overdue, info.holds, info.unavailable_holds) == (2, 2, 0, 1)
    assert (info.fine_items, info.fines_owed) == (2, 2700)
    assert info.items == ()
    # HKPL lends on with overdue items and fines below HK$130: no flag.
    assert field(info) == BLANK
    assert listed(shelf, ss.ItemList.OVERDUE, 1, 1) == ("B0001",)
    assert listed(shelf, ss.ItemList.FINES) == ("B0001 HK$13.50", "B0002 HK$13.50")


def test_excessive_fines_set_flags_and_say_why(shelf: App) -> None:
    reader = patron_id(shelf, "HKPL0001")
    with shelf.ports.uow() as uow:
        uow.fines.add_fine(reader, None, 13000, "lost", TODAY)
        uow.commit()
    info = ss.patron_information(shelf.ports, kiosk_of(shelf), "HKPL0001", PIN, source=SOURCE)
    assert flags(info) == PRIVILEGES_DENIED | {PatronFlag.EXCESSIVE_OUTSTANDING_FINES}
    assert info.valid_pin is True
    assert info.screen == (Violation("checkout.fines_block", {"balance": 13000}),)
    assert info.fines_owed == 13000
    lent = ss.checkout(shelf.ports, kiosk_of(shelf), "HKPL0001", "B0003", PIN, source=SOURCE)
    assert (lent.ok, lent.screen[0].code) == (False, "checkout.fines_block")


def test_too_many_items_charged(hkpl: App) -> None:
    terminal = kiosk(hkpl)
    for number in range(8):  # HKPL lends 8 items at most
        copy(hkpl, f"C{number:04d}", f"Title {number}")
        assert ss.checkout(
            hkpl.ports, terminal, "HKPL0001", f"C{number:04d}", PIN, source=SOURCE
        ).ok
    info = ss.patron_information(hkpl.ports, terminal, "HKPL0001", PIN, source=SOURCE)
    assert flags(info) == {PatronFlag.CHARGE_PRIVILEGES_DENIED, PatronFlag.TOO_MANY_ITEMS_CHARGED}
    copy(hkpl, "C0009", "Title 9")
    lent = ss.checkout(hkpl.ports, terminal, "HKPL0001", "C0009", PIN, source=SOURCE)
    assert (lent.ok, lent.screen) == (False, (Violation("checkout.too_many_items", {"max": 8}),))


# --- lending at the terminal ---------------------------------------------------------------


def test_checkout_lends_with_the_due_date_and_audits_the_terminal(hkpl: App) -> None:
    copy(hkpl, "B0001")
    lent = ss.checkout(hkpl.ports, kiosk(hkpl), "HKPL0001", "b 0001", PIN, source=SOURCE)
    assert lent.ok
    assert not lent.renewal
    assert (lent.title, lent.due_on, lent.language) == (
        "Dream of the Red Chamber",
        TODAY + 21 * DAY,
        "zh_Hant",
    )
    [event] = [e for e in audit(hkpl) if e.action == "checkout"]
    assert (event.actor, event.channel) == ("terminal:kiosk1", "sip2")
    assert PIN not in repr([e for e in audit(hkpl) if e.channel == "sip2"])


REFUSED_CHECKOUTS = {
    "unknown patron": ("HKPL9999", "B0001", PIN, "sip2.patron_unknown"),
    "wrong PIN": ("HKPL0001", "B0001", WRONG, "sip2.pin_wrong"),
    "empty PIN": ("HKPL0001", "B0001", "", "sip2.pin_required"),
    "unknown item": ("HKPL0001", "B9999", PIN, "item.not_found"),
    "malformed item": ("HKPL0001", "B\x000001", PIN, "identifier.invalid_characters"),
    "on loan to another": ("HKPL0002", "B0002", "9876", "checkout.on_loan"),
}


@pytest.mark.parametrize(
    ("patron", "item", "pin", "code"), REFUSED_CHECKOUTS.values(), ids=REFUSED_CHECKOUTS
)
def test_refused_checkouts_say_why_and_lend_nothing(
    hkpl: App, patron: str, item: str, pin: str, code: str
) -> None:
    terminal = kiosk(hkpl)
    copy(hkpl, "B0001")
    copy(hkpl, "B0002", "Journey to the West")
    assert ss.checkout(hkpl.ports, terminal, "HKPL0001", "B0002", PIN, source=SOURCE).ok
    lent = ss.checkout(hkpl.ports, terminal, patron, item, pin, source=SOURCE)
    assert lent.ok is False
    assert [v.code for v in lent.screen] == [code]
    reader, other = patron_id(hkpl, "HKPL0001"), patron_id(hkpl, "HKPL0002")
    with hkpl.ports.uow() as uow:
        assert len(uow.loans.open_loans(reader)) == 1
        assert uow.loans.open_loans(other) == []


def test_checking_out_an_item_one_has_already_renews_it(hkpl: App) -> None:
    terminal = kiosk(hkpl)
    copy(hkpl, "B0001")
    first = ss.checkout(hkpl.ports, terminal, "HKPL0001", "B0001", PIN, source=SOURCE)
    clock_of(hkpl).advance(86400)
    again = ss.checkout(hkpl.ports, terminal, "HKPL0001", "B0001", PIN, source=SOURCE)
    assert (again.ok, again.renewal) == (True, True)
    assert first.due_on is not None
    assert again.due_on == first.due_on + 21 * DAY


def test_renew_one_and_the_reasons_it_is_refused(shelf: App) -> None:
    terminal = kiosk_of(shelf)
    renewed = ss.renew(shelf.ports, terminal, "HKPL0001", "B0001", PIN, source=SOURCE)
    assert (renewed.ok, renewed.due_on, renewed.title) == (
        True,
        TODAY + 42 * DAY,
        "Dream of the Red Chamber",
    )
    not_mine = ss.renew(shelf.ports, terminal, "HKPL0001", "B0004", PIN, source=SOURCE)
    assert (not_mine.ok, not_mine.screen) == (False, (Violation("loan.not_found"),))
    # HKPL0002 reserves B0002's title: HKPL0001 can no longer renew it.
    title_id = copy(shelf, "B0099", "Journey to the West")
    checkout(shelf.ports, "HKPL0001", "B0099", actor=STAFF, channel="staff")
    place_reservation(shelf.ports, patron_id(shelf, "HKPL0002"), title_id, "CEN", channel="web")
    reserved = ss.renew(shelf.ports, terminal, "HKPL0001", "B0002", PIN, source=SOURCE)
    assert (reserved.ok, reserved.screen) == (False, (Violation("renewal.reserved"),))
    wrong = ss.renew(shelf.ports, terminal, "HKPL0001", "B0001", WRONG, source=SOURCE)
    assert (wrong.ok, wrong.screen) == (False, (Violation("sip2.pin_wrong"),))


def test_renew_all_lists_renewed_and_unrenewed_items(shelf: App) -> None:
    terminal = kiosk_of(shelf)
    title_id = copy(shelf, "B0099", "Journey to the West")
    checkout(shelf.ports, "HKPL0001", "B0099", actor=STAFF, channel="staff")
    place_reservation(shelf.ports, patron_id(shelf, "HKPL0002"), title_id, "CEN", channel="web")
    done = ss.renew_all(shelf.ports, terminal, "HKPL0001", PIN, source=SOURCE)
    assert done.ok
    # Both copies of the reserved title stay; the other loan is renewed.
    assert done.renewed == ("B0001",)
    assert sorted(done.unrenewed) == ["B0002", "B0099"]
    assert done.screen == (Violation("renewal.reserved"),)
    refused = ss.renew_all(shelf.ports, terminal, "HKPL0001", WRONG, source=SOURCE)
    assert (refused.ok, refused.renewed, refused.unrenewed) == (False, (), ())


def test_checkin_charges_the_fine_and_sends_the_copy_to_a_reservation(shelf: App) -> None:
    terminal = kiosk_of(shelf)
    # HKPL0002 reserves B0001's title, out with HKPL0001.
    title_id = next(
        view.loan.title_id
        for view in record(shelf.ports, patron_id(shelf, "HKPL0001")).loans
        if view.item_barcode == "B0001"
    )
    place_reservation(shelf.ports, patron_id(shelf, "HKPL0002"), title_id, "STN", channel="web")
    clock_of(shelf).advance(23 * 86400)  # two days late
    back = ss.checkin(shelf.ports, terminal, "B0001", source=SOURCE)
    assert back.ok
    assert (back.title, back.home_library, back.patron_identifier) == (
        "Dream of the Red Chamber",
        "CEN",
        "HKPL0001",
    )
    assert (back.fine, back.hold_pickup, back.alert) == (300, "STN", True)
    item = ss.item_information(shelf.ports, terminal, "B0001")
    assert (circulation_status(item.status), item.hold_pickup, item.due_on) == (
        CirculationStatus.WAITING_ON_HOLD_SHELF,
        "STN",
        None,
    )
    plain = ss.checkin(shelf.ports, terminal, "B0002", source=SOURCE)
    assert (plain.ok, plain.alert, plain.fine) == (True, False, 300)
    again = ss.checkin(shelf.ports, terminal, "B0002", source=SOURCE)
    assert (again.ok, again.screen) == (False, (Violation("checkin.not_on_loan"),))
    assert ss.checkin(shelf.ports, terminal, "B9999", source=SOURCE).screen == (
        Violation("item.not_found"),
    )
    [event, *_] = [e for e in audit(shelf) if e.action == "checkin"]
    assert (event.actor, event.channel) == ("terminal:kiosk1", "sip2")


def test_item_information(shelf: App) -> None:
    terminal = kiosk_of(shelf)
    out = ss.item_information(shelf.ports, terminal, "B0004")
    assert (out.found, circulation_status(out.status), out.due_on, out.hold_queue) == (
        True,
        CirculationStatus.CHARGED,
        TODAY + 21 * DAY,
        1,
    )
    assert out.title == "Romance of the Three Kingdoms"
    held = ss.item_information(shelf.ports, terminal, "B0003")
    assert (circulation_status(held.status), held.hold_pickup) == (
        CirculationStatus.WAITING_ON_HOLD_SHELF,
        "KLN",
    )
    copy(shelf, "B0005", "Strange Tales")
    assert (
        circulation_status(ss.item_information(shelf.ports, terminal, "B0005").status)
        is CirculationStatus.AVAILABLE
    )
    for unknown in ("B9999", "", "B\x00"):
        missing = ss.item_information(shelf.ports, terminal, unknown)
        assert (missing.found, missing.screen) == (False, (Violation("item.not_found"),))


def test_end_session(hkpl: App) -> None:
    ended = ss.end_session(hkpl.ports, kiosk(hkpl), "HKPL0001", source=SOURCE)
    assert (ended.ended, ended.identifier) == (True, "HKPL0001")
