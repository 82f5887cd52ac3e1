"""Lending at the counter (R28) through the command line: copies, check-out, check-in,
fines and payments, the fine calendar (seed 001) and PolyU's requests (R8).

The command line runs on today's clock; a loan made weeks ago is made through the use
cases under a clock set back, on the same database.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from patronauth.bootstrap import App
from patronauth.domain.circulation import RequestKind
from patronauth.services.holds import place_reservation
from patronauth.services.loans import checkin, checkout
from patronauth.services.lookup import require_patron
from patronauth.services.requests import submit_request
from tests.cli.conftest import ADD_PENDING, Cli

HK = ZoneInfo("Asia/Hong_Kong")
STAFF = "staff:test"
HKPL = ("--institution", "hkpl")
POLYU_PATRON = (
    *("patron", "add", "--institution", "polyu"),
    *("--barcode", "21012345A", "--id-number", "Z123456(1)"),
)


def today() -> date:
    return datetime.now(HK).date()


def days_ago(days: int) -> datetime:
    return datetime.now(UTC) - timedelta(days=days)


def patron_id(app: App, card: str) -> int:
    with app.ports.uow() as uow:
        return require_patron(uow, app.ports.profiles, card).patron.id


def lend(cli: Cli, card: str, item: str, *, days: int) -> None:
    """A loan made `days` ago, at the counter."""
    with cli.app(days_ago(days)) as app:
        checkout(app.ports, card, item, actor=STAFF, channel="staff")


def give_back(cli: Cli, item: str, institution: str, *, days: int) -> None:
    with cli.app(days_ago(days)) as app:
        checkin(app.ports, item, institution, actor=STAFF, channel="staff")


def reserve(cli: Cli, card: str, item: str, pickup: str) -> None:
    """`card` reserves the title of the copy `item`, on the web."""
    with cli.app() as app:
        with app.ports.uow() as uow:
            patron = require_patron(uow, app.ports.profiles, card).patron
            copy = uow.catalogue.item_by_barcode(patron.institution, item)
        assert copy is not None
        place_reservation(app.ports, patron.id, copy.title_id, pickup, channel="web")


def add_items(cli: Cli, institution: str, *items: tuple[str, str, str]) -> None:
    for barcode, title, library in items:
        cli.ok("item", "add", "--institution", institution, "--barcode", barcode,
               "--title", title, "--library", library)  # fmt: skip


@pytest.fixture
def hkpl(cli_any: Cli) -> Cli:
    """Two HKPL readers and three copies (SQLite, and PostgreSQL when reachable)."""
    cli = cli_any
    for card, phone in (("HKPL0001", "91234567"), ("HKPL0002", "61239876")):
        cli.ok("patron", "add", *HKPL, "--barcode", card, "--phone", phone)
    add_items(
        cli,
        "hkpl",
        ("BK1", "Dream of the Red Chamber", "CEN"),
        ("BK2", "Journey to the West", "KLN"),
        ("BK3", "Water Margin", "STN"),
    )
    return cli


@pytest.fixture
def hkct(cli: Cli) -> Cli:
    """HKCT (five loans at most, overdue loans block, HK$50 of fines block) over SQLite."""
    for card in ("20181234", "20185678"):
        cli.ok("patron", "add", "--institution", "hkct", "--barcode", card,
               "--student-number", card, "--registered-on", "2018-08-01")  # fmt: skip
    cli.ok(*ADD_PENDING)
    add_items(cli, "hkct", *((f"K{n}", f"Marketing, part {n}", "KBY") for n in range(1, 8)))
    return cli


# --- item add ------------------------------------------------------------------------------


def test_item_add_puts_copies_with_one_isbn_under_one_title(cli: Cli) -> None:
    add = ("item", "add", *HKPL, "--json")
    first = cli.ok(*add, "--barcode", "bk 1", "--title", "Fortress Besieged",
                   "--author", "Qian Zhongshu", "--isbn", "978-0-8112-1741-0").json()  # fmt: skip
    assert first == {
        "institution": "hkpl",
        "barcode": "BK1",
        "title_id": first["title_id"],
        "library": "CEN",  # the profile's first library
        "status": "available",
    }
    second = cli.ok(*add, "--barcode", "BK2", "--title", "Fortress Besieged (2nd copy)",
                    "--isbn", "9780811217410", "--library", "STN").json()  # fmt: skip
    assert (second["title_id"], second["library"]) == (first["title_id"], "STN")
    third = cli.ok("item", "add", *HKPL, "--barcode", "BK3", "--title", "Fortress Besieged",
                   "--author", "Qian Zhongshu")  # fmt: skip
    assert third.out == f"added BK3 at CEN (title {first['title_id']})\n"
    state = cli.state()
    assert (len(state["titles"]), len(state["items"])) == (1, 3)


ITEM_REFUSALS = {
    "barcode taken": (["--barcode", "BK1", "--title", "Another"], "item.taken"),
    "barcode taken, other case": (["--barcode", " bk1 ", "--title", "Another"], "item.taken"),
    "unknown library": (
        ["--barcode", "BK9", "--title", "T", "--library", "PAO"],
        "item.unknown_library",
    ),
    "title too long": (["--barcode", "BK9", "--title", "x" * 301], "request.too_long"),
    "markup in the author": (
        ["--barcode", "BK9", "--title", "T", "--author", "<b>Lu Xun</b>"],
        "request.invalid_characters",
    ),
    "barcode with a slash": (
        ["--barcode", "BK/9", "--title", "T"],
        "identifier.invalid_characters",
    ),
}  # fmt: skip


@pytest.mark.parametrize(("args", "code"), ITEM_REFUSALS.values(), ids=ITEM_REFUSALS)
def test_item_add_refusals(cli: Cli, args: list[str], code: str) -> None:
    cli.ok("item", "add", *HKPL, "--barcode", "BK1", "--title", "Water Margin")
    before = cli.state()
    assert cli.refused("item", "add", *HKPL, *args).reasons == [code]
    assert cli.state() == before


@pytest.mark.parametrize(
    "isbn", ["978-0-8112-1741", "97808112174100", "ISBN 9780811217410", "12345678Y"]
)
def test_item_add_refuses_what_is_not_an_isbn_as_bad_usage(cli: Cli, isbn: str) -> None:
    run = cli("item", "add", *HKPL, "--barcode", "BK1", "--title", "T", "--isbn", isbn)
    assert run.code == 2, str(run)
    assert "an ISBN has 10 or 13 digits" in run.err
    assert cli.state()["items"] == []


# --- checkout -------------------------------------------------------------------------------


def test_checkout_prints_the_due_date(hkpl: Cli) -> None:
    cli = hkpl
    due = today() + timedelta(days=21)  # HKPL lends for 21 days
    run = cli.ok("checkout", "HKPL0001", "bk1")
    assert run.out == f"due {due.isoformat()}: Dream of the Red Chamber\n"
    lent = cli.ok("checkout", "hkpl0001", "BK2", *HKPL, "--json").json()
    assert lent == {
        "loan_id": lent["loan_id"],
        "item": "BK2",
        "title": "Journey to the West",
        "due_on": due.isoformat(),
        "reservation_collected": False,
    }
    shown = cli.ok("fines", "show", "HKPL0001", "--json").json()
    assert [(loan["item"], loan["due_on"]) for loan in shown["loans"]] == [
        ("BK1", due.isoformat()),
        ("BK2", due.isoformat()),
    ]
    assert [e["action"] for e in cli.audit("HKPL0001")][:2] == ["checkout", "checkout"]


def test_checkout_refusals_say_why_and_lend_nothing(hkpl: Cli) -> None:
    cli = hkpl
    cli.ok("checkout", "HKPL0001", "BK1")
    before = cli.state()
    assert cli.refused("checkout", "HKPL0002", "BK1").reasons == ["checkout.on_loan"]
    assert cli.refused("checkout", "HKPL9999", "BK2").reasons == ["patron.not_found"]
    assert cli.refused("checkout", "HKPL0001", "BK99").reasons == ["item.not_found"]
    refused = cli.refused("checkout", "HKPL0001", "BK1", "--json").json()
    assert refused["error"] == "checkout.on_loan"
    assert refused["message"] == "This item is already on loan."
    assert cli.state() == before


def test_a_copy_on_the_hold_shelf_goes_only_to_the_patron_who_reserved_it(hkpl: Cli) -> None:
    cli = hkpl
    cli.ok("checkout", "HKPL0001", "BK1")
    reserve(cli, "HKPL0002", "BK1", "KLN")
    cli.ok("checkin", "BK1", *HKPL)
    assert cli.refused("checkout", "HKPL0001", "BK1").reasons == ["checkout.held_for_another"]
    lent = cli.ok("checkout", "HKPL0002", "BK1")
    assert lent.out.endswith("; the patron's reservation is collected\n")


def test_checkout_refusals_of_the_account(hkct: Cli) -> None:
    cli = hkct
    for n in range(1, 6):
        cli.ok("checkout", "20181234", f"K{n}")
    assert cli.refused("checkout", "20181234", "K6").reasons == ["checkout.too_many_items"]
    assert cli.refused("checkout", "S2019001", "K6").reasons == ["checkout.account_pending"]
    lend(cli, "20185678", "K6", days=20)  # 14 days' loan: six days overdue
    assert cli.refused("checkout", "20185678", "K7").reasons == ["checkout.overdue_block"]
    give_back(cli, "K6", "hkct", days=0)  # HK$6.00 charged; nothing overdue now
    cli.ok("checkout", "20185678", "K7")
    cli.ok("checkin", "K7", "--institution", "hkct")
    lend(cli, "20185678", "K7", days=80)
    give_back(cli, "K7", "hkct", days=1)  # capped at HK$50, which blocks lending
    run = cli.refused("checkout", "20185678", "K6", "--json").json()
    assert run["error"] == "checkout.fines_block"
    assert cli.refused("checkout", "20185678", "K99").reasons == ["item.not_found"]


def test_an_item_of_another_library_is_not_found(hkpl: Cli) -> None:
    cli = hkpl
    cli.ok(*POLYU_PATRON)
    assert cli.refused("checkout", "21012345A", "BK1").reasons == ["item.not_found"]
    assert cli.refused("checkin", "BK1", "--institution", "polyu").reasons == ["item.not_found"]


# --- checkin --------------------------------------------------------------------------------


def test_checkin_charges_the_overdue_fine_and_fills_the_next_reservation(hkpl: Cli) -> None:
    cli = hkpl
    lend(cli, "HKPL0001", "BK1", days=30)  # due 21 days after: nine days overdue today
    reserve(cli, "HKPL0002", "BK1", "KLN")
    ready_until = today() + timedelta(days=7)
    run = cli.ok("checkin", "BK1", *HKPL)
    assert run.out.splitlines() == [
        "returned BK1: Dream of the Red Chamber",
        "fine charged: HK$13.50",  # nine days at HK$1.50
        "reservation: the copy waits on the hold shelf for HKPL0002, to collect at KLN by "
        f"{ready_until.isoformat()}",
    ]
    shown = cli.ok("fines", "show", "HKPL0001", "--json").json()
    assert [(f["amount_cents"], f["reason"]) for f in shown["fines"]] == [(1350, "overdue")]
    assert shown["loans"] == []
    assert shown["balance_cents"] == 1350


def test_checkin_without_a_reservation_puts_the_copy_back_on_the_shelf(hkpl: Cli) -> None:
    cli = hkpl
    cli.ok("checkout", "HKPL0001", "BK3")
    back = cli.ok("checkin", " bk3 ", *HKPL, "--json").json()
    assert back == {
        "item": "BK3",
        "title": "Water Margin",
        "status": "available",
        "fine_cents": 0,
        "currency": "HK$",
        "reservation": None,
    }
    assert cli.ok("checkout", "HKPL0002", "BK3").code == 0
    assert cli.ok("checkin", "BK3", *HKPL).out.splitlines()[1:] == [
        "no fine",
        "no reservation waits: back on the shelf at STN",
    ]


def test_checkin_refusals(hkpl: Cli) -> None:
    cli = hkpl
    before = cli.state()
    assert cli.refused("checkin", "BK1", *HKPL).reasons == ["checkin.not_on_loan"]
    assert cli.refused("checkin", "BK99", *HKPL).reasons == ["item.not_found"]
    assert cli.state() == before
    missing = cli("checkin", "BK1")
    assert (missing.code, "--institution" in missing.err) == (2, True)


# --- fines ----------------------------------------------------------------------------------


def test_fines_pay_takes_the_currency_s_units_and_prints_the_balance(hkpl: Cli) -> None:
    cli = hkpl
    lend(cli, "HKPL0001", "BK1", days=31)  # ten days overdue: HK$15.00
    give_back(cli, "BK1", "hkpl", days=0)
    assert cli.ok(
        "fines", "pay", "--reason", "at the counter", "HKPL0001", "--amount", "2.5"
    ).out == ("paid HK$2.50; balance HK$12.50\n")
    paid = cli.ok(
        "fines", "pay", "--reason", "at the counter", "HKPL0001", "--amount", "12", "--json"
    ).json()
    assert paid == {"paid_cents": 1200, "balance_cents": 50, "currency": "HK$"}
    run = cli.refused("fines", "pay", "--reason", "at the counter", "HKPL0001", "--amount", "0.51")
    assert run.reasons == ["fines.more_than_owed"]
    cli.ok("fines", "pay", "--reason", "at the counter", "HKPL0001", "--amount", "0.50")
    assert cli.refused(
        "fines", "pay", "--reason", "at the counter", "HKPL0001", "--amount", "1"
    ).reasons == ["fines.nothing_owed"]
    assert cli.refused(
        "fines", "pay", "--reason", "at the counter", "HKPL9999", "--amount", "1"
    ).reasons == ["patron.not_found"]
    shown = cli.ok("fines", "show", "HKPL0001", "--json").json()
    assert [p["amount_cents"] for p in shown["payments"]] == [250, 1200, 50]
    assert (shown["recorded_cents"], shown["paid_cents"], shown["balance_cents"]) == (1500, 1500, 0)
    assert [e["action"] for e in cli.audit("HKPL0001")][:3] == ["fines.pay"] * 3
    first = [e["detail"] for e in cli.audit("HKPL0001") if e["action"] == "fines.pay"][-1]
    assert first == {"amount": "250", "staff": "test", "reason": "at the counter"}


BAD_AMOUNTS = ["0", "0.00", "-5", "12.555", "1e3", "12,50", "HK$12", ".5", "12.", "１２",
               "12 ", "99999999", "nan", "0x10"]  # fmt: skip


@pytest.mark.parametrize("amount", BAD_AMOUNTS)
def test_fines_pay_refuses_a_bad_amount_before_anything_else(hkpl: Cli, amount: str) -> None:
    cli = hkpl
    lend(cli, "HKPL0001", "BK1", days=31)
    give_back(cli, "BK1", "hkpl", days=0)
    before = cli.state()
    for extra in ([], ["--json"]):
        run = cli(
            "fines", "pay", "--reason", "at the counter", "HKPL0001", "--amount", amount, *extra
        )
        assert run.code == 2, str(run)
        assert "--amount" in run.err
        assert "such as 12.50" in run.err
        assert run.out == ""
    assert cli.state() == before


def test_fines_show_lists_loans_fines_payments_and_the_balance(hkpl: Cli) -> None:
    cli = hkpl
    lend(cli, "HKPL0001", "BK1", days=40)  # returned today, 19 days late: HK$28.50
    give_back(cli, "BK1", "hkpl", days=0)
    lend(cli, "HKPL0001", "BK2", days=25)  # four days overdue today
    cli.ok("checkout", "HKPL0001", "BK3")
    cli.ok("fines", "pay", "--reason", "at the counter", "HKPL0001", "--amount", "8.50")
    shown = cli.ok("fines", "show", "HKPL0001", "--json").json()
    assert shown["currency"] == "HK$"
    assert shown["today"] == today().isoformat()
    assert [(x["item"], x["overdue"], x["fine_so_far_cents"]) for x in shown["loans"]] == [
        ("BK2", True, 600),
        ("BK3", False, 0),
    ]
    assert set(shown["loans"][0]) == {
        "loan_id", "item", "title", "author", "checked_out_on", "due_on", "overdue",
        "fine_so_far_cents", "renewals", "renewals_left",
    }  # fmt: skip
    assert [f["amount_cents"] for f in shown["fines"]] == [19 * 150]
    assert shown["accruing_cents"] == 600
    assert shown["balance_cents"] == 19 * 150 + 600 - 850
    text = cli.ok("fines", "show", "hkpl0001").out.splitlines()
    assert text[0] == f"HKPL0001 (hkpl), today {today().isoformat()}"
    assert text[1] == "loans:"
    assert text[2].startswith("  BK2  due ")
    assert "overdue, fine so far HK$6.00" in text[2]
    assert text[-1] == "balance: HK$26.00 (fines HK$28.50 + accruing HK$6.00 - paid HK$8.50)"
    assert cli.ok("fines", "show", "HKPL0002").out.splitlines()[1:] == [
        "loans: none",
        "fines: none",
        "payments: none",
        "balance: HK$0.00 (fines HK$0.00 + accruing HK$0.00 - paid HK$0.00)",
    ]
    assert cli.refused("fines", "show", "HKPL9999").reasons == ["patron.not_found"]


# --- the fine calendar ----------------------------------------------------------------------


def test_calendar_close_resume_and_show(cli: Cli) -> None:
    cal = ("calendar",)
    assert cli.ok(*cal, "show", *HKPL).out == "hkpl: overdue fines accrue every day (no closures)\n"
    assert cli.ok(*cal, "close", *HKPL, "--from", "2024-06-01", "--to", "2024-06-03").code == 0
    run = cli.ok(*cal, "close", *HKPL, "--from", "2024-07-01")
    assert run.out.splitlines() == [
        "hkpl: no overdue fine accrues on these days",
        "  2024-06-01 to 2024-06-03",
        "  2024-07-01 until resumed",
    ]
    resumed = cli.ok(*cal, "resume", *HKPL, "--from", "2024-07-10", "--json").json()
    assert resumed == {
        "institution": "hkpl",
        "closures": [
            {"from": "2024-06-01", "to": "2024-06-03"},
            {"from": "2024-07-01", "to": "2024-07-09"},
        ],
    }
    assert cli.ok(*cal, "show", *HKPL, "--json").json() == resumed
    assert cli.ok(*cal, "show", "--institution", "polyu", "--json").json()["closures"] == []
    actions = [e["action"] for e in cli.audit()]
    assert actions[:3] == ["calendar.resume", "calendar.close", "calendar.close"]


def test_calendar_refusals(cli: Cli) -> None:
    before = cli.state()
    bad = ("calendar", "close", *HKPL, "--from", "2024-06-03", "--to", "2024-06-01")
    assert cli.refused(*bad).reasons == ["calendar.bad_period"]
    resume = ("calendar", "resume", *HKPL, "--from", "2024-06-03")
    assert cli.refused(*resume).reasons == ["calendar.nothing_to_resume"]
    cli.ok("calendar", "close", *HKPL, "--from", "2024-06-05", "--to", "2024-06-06")
    assert cli.refused(*resume).reasons == ["calendar.nothing_to_resume"]
    unknown = cli.refused("calendar", "show", "--institution", "nowhere")
    assert unknown.reasons == ["institution.unknown"]
    assert len(cli.state()["closures"]) == len(before["closures"]) + 1


def test_seed_001_fines_resumed_from_5_march_2021(cli: Cli) -> None:
    """Libraries closed (the demo takes 2 December 2020); "calculation of overdue fines
    will be resumed from 5 March": a book due in February and returned on 10 March owes
    six days (5 to 10 March)."""
    cli.ok("patron", "add", *HKPL, "--barcode", "HKPL0001", "--phone", "91234567")
    add_items(cli, "hkpl", ("BK1", "Water Margin", "CEN"))
    with cli.app(datetime(2021, 1, 20, 2, tzinfo=UTC)) as app:
        lent = checkout(app.ports, "HKPL0001", "BK1", actor=STAFF, channel="staff")
    assert lent.loan.due_on == date(2021, 2, 10)
    cli.ok("calendar", "close", *HKPL, "--from", "2020-12-02")
    cli.ok("calendar", "resume", *HKPL, "--from", "2021-03-05")
    with cli.app(datetime(2021, 3, 10, 2, tzinfo=UTC)) as app:
        back = checkin(app.ports, "BK1", "hkpl", actor=STAFF, channel="staff")
    assert back.fine == 6 * 150
    assert cli.ok("fines", "show", "HKPL0001", "--json").json()["balance_cents"] == 900


# --- PolyU's requests -----------------------------------------------------------------------


@pytest.fixture
def polyu(cli: Cli) -> Cli:
    cli.ok(*POLYU_PATRON)
    cli.ok(*POLYU_PATRON[:-3], "21099999B", "--id-number", "XY12345678")
    with cli.app(days_ago(3)) as app:
        patron = patron_id(app, "21012345A")
        submit_request(
            app.ports, patron, RequestKind.RECOMMENDATION, title="Deep Learning",
            author="Ian Goodfellow", note="For my project", channel="web",
        )  # fmt: skip
    with cli.app(days_ago(1)) as app:
        submit_request(
            app.ports, patron, RequestKind.INTERLIBRARY_LOAN,
            title="The Art of Computer Programming", channel="web",
        )  # fmt: skip
    return cli


def test_request_list_and_status(polyu: Cli) -> None:
    cli = polyu
    listed = cli.ok("request", "list", "21012345A", "--json").json()["requests"]
    assert [(r["kind"], r["status"], r["title"]) for r in listed] == [
        ("interlibrary_loan", "submitted", "The Art of Computer Programming"),
        ("recommendation", "submitted", "Deep Learning"),
    ]
    assert set(listed[0]) == {
        "id", "kind", "title", "author", "note", "status", "created_at", "updated_at",
    }  # fmt: skip
    first = listed[1]["id"]
    text = cli.ok("request", "list", "21012345A").out.splitlines()
    assert len(text) == 2
    assert text[1].split()[:3] == [str(first), "recommendation", "submitted"]
    assert text[1].endswith("Deep Learning / Ian Goodfellow")
    moved = cli.ok("request", "status", str(first), "--status", "in_progress", "--json").json()
    assert (moved["id"], moved["status"]) == (first, "in_progress")
    done = cli.ok("request", "status", str(first), "--status", "fulfilled")
    assert done.out.split()[:3] == [str(first), "recommendation", "fulfilled"]
    assert cli.ok("request", "list", "21099999B").out == "no requests\n"
    events = cli.audit("21012345A")
    assert [e["action"] for e in events[:2]] == ["request.status", "request.status"]
    assert events[0]["detail"] == {"request": str(first), "status": "fulfilled"}


def test_request_refusals_and_bad_usage(polyu: Cli) -> None:
    cli = polyu
    before = cli.state()
    assert cli.refused("request", "status", "999", "--status", "rejected").reasons == [
        "patron_request.not_found"
    ]
    assert cli.refused("request", "list", "21000000X").reasons == ["patron.not_found"]
    for args in (
        ("request", "status", "1", "--status", "submitted"),
        ("request", "status", "1", "--status", "done"),
        ("request", "status", "1"),
        ("request", "status", "-1", "--status", "rejected"),
        ("request", "status", "1.0", "--status", "rejected"),
        ("request", "status", "9" * 19, "--status", "rejected"),
    ):
        run = cli(*args)
        assert run.code == 2, str(run)
        assert "Error: " in run.err
    assert cli.state() == before
