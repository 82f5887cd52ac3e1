"""My Account behind the login (R28): loans with due dates, renewing one or all with the
reason of each refusal, reservations (placed from a catalogue search, cancelled), fines
and payments; another patron's records are not found, and a must-change session reaches
none of it (S5)."""

from __future__ import annotations

import re
from datetime import date

import pytest
from sqlalchemy import select

from patronauth.adapters.storage import tables
from patronauth.bootstrap import App
from patronauth.domain.circulation import HoldStatus
from patronauth.services.catalogue import add_item, search
from patronauth.services.fines import pay_fines
from patronauth.services.holds import place_reservation
from patronauth.services.loans import checkin, renew_loan
from patronauth.services.record import record
from tests.support import STAFF, clock_of
from tests.web.conftest import Browser, stored
from tests.web.lending import DREAM, JOURNEY, KINGDOMS, MARGIN, Shelf, stock


def words(html: str) -> str:
    """The page's text without its tags (dates are marked up as unbroken units)."""
    return re.sub(r"<[^>]+>", "", html)


pytestmark = pytest.mark.anyio

VALID = "Lib#Reader2026"
DAY = 86400


async def signed_in(browser: Browser) -> None:
    """HKPL0001 past the forced change (R5)."""
    await browser.sign_in("hkpl", "HKPL0001", "4567")
    changed = await browser.post(
        "/hkpl/change-required", {"current": "4567", "new": VALID, "confirm": VALID}
    )
    assert changed.status_code == 303


@pytest.fixture
def shelf(patrons: App) -> Shelf:
    return stock(patrons)


def due_on(app: App, loan_id: int) -> date:
    with app.engine.connect() as conn:
        found = conn.execute(select(tables.loans.c.due_on).where(tables.loans.c.id == loan_id))
        return found.scalar_one()  # type: ignore[no-any-return]


def hold_status(app: App, hold_id: int) -> str:
    with app.engine.connect() as conn:
        found = conn.execute(select(tables.holds.c.status).where(tables.holds.c.id == hold_id))
        return str(found.scalar_one())


# --- loans and renewals -------------------------------------------------------------------


async def test_loans_show_due_dates_overdue_items_and_the_fine_so_far(
    patrons: App, shelf: Shelf, browser: Browser
) -> None:
    clock_of(patrons).advance(26 * DAY)  # due 15 December; now 20 December in Hong Kong
    await signed_in(browser)
    page = await browser.get("/hkpl/account/loans")
    assert page.status_code == 200
    assert page.headers["cache-control"] == "no-store"
    text = page.text
    assert 'href="/hkpl/account/loans" aria-current="page"' in text
    for title in (DREAM, JOURNEY):
        assert title in text
    assert KINGDOMS not in text  # the other reader's loan
    assert "15 December 2026" in text
    assert text.count('<strong class="badge badge--overdue">Overdue</strong>') == 2
    assert text.count("HK$7.50") == 2  # 5 days at HK$1.50
    assert "Item B0001" in text
    assert f'action="/hkpl/account/loans/{shelf.renewable}/renew"' in text
    assert 'action="/hkpl/account/loans/renew-all"' in text
    summary = await browser.get("/hkpl/account")
    assert "On loan: 2</a>" in summary.text
    assert "2 overdue" in summary.text
    assert "Fines owed: HK$15.00" in summary.text


async def test_renewing_one_loan_and_refused_for_another_with_the_reason(
    patrons: App, shelf: Shelf, browser: Browser
) -> None:
    await signed_in(browser)
    renewed = await browser.post(f"/hkpl/account/loans/{shelf.renewable}/renew")
    assert renewed.status_code == 303
    assert renewed.headers["location"] == f"/hkpl/account/loans?renewed={shelf.renewable}"
    page = await browser.follow(renewed)
    assert f"Renewed: {DREAM}. It is now due on 5 January 2027." in words(page.text)
    assert '<span class="unbroken">5 January 2027</span>' in page.text
    assert due_on(patrons, shelf.renewable) == date(2027, 1, 5)  # 21 more days (HKPL)

    refused = await browser.post(f"/hkpl/account/loans/{shelf.reserved}/renew")
    assert refused.status_code == 409
    assert "There is a problem" in refused.text
    reason = "Another reader has reserved this item, so it cannot be renewed."
    assert f'<a href="#renew-{shelf.reserved}">{JOURNEY}: {reason}</a>' in refused.text
    assert f'id="renew-{shelf.reserved}-error"' in refused.text
    assert f'aria-describedby="renew-{shelf.reserved}-error"' in refused.text
    assert due_on(patrons, shelf.reserved) == date(2026, 12, 15)


async def test_renew_all_reports_every_loan(patrons: App, shelf: Shelf, browser: Browser) -> None:
    await signed_in(browser)
    posted = await browser.post("/hkpl/account/loans/renew-all")
    assert posted.status_code == 303  # the report is a page of its own: a reload renews nothing
    assert posted.headers["location"] == (
        f"/hkpl/account/loans?report={shelf.renewable}%2C{shelf.reserved}~renewal.reserved"
    )
    for _ in range(2):
        page = await browser.follow(posted)
        assert "Renewed 1 of 2 loans." in page.text
        assert "Renewed until 5 January 2027" in words(page.text)
        assert f"{JOURNEY}: Another reader has reserved this item" in page.text
        assert due_on(patrons, shelf.renewable) == date(2027, 1, 5)
        assert due_on(patrons, shelf.reserved) == date(2026, 12, 15)


async def test_the_most_renewals_allowed_and_the_fines_limit_refuse_with_their_reasons(
    patrons: App, shelf: Shelf, browser: Browser
) -> None:
    for _ in range(5):  # HKPL: five renewals
        renew_loan(patrons.ports, shelf.reader, shelf.renewable, channel="web")
    await signed_in(browser)
    page = await browser.get("/hkpl/account/loans")
    assert '<td data-label="Renewals left">0</td>' in page.text  # no renewals left
    refused = await browser.post(f"/hkpl/account/loans/{shelf.renewable}/renew")
    assert refused.status_code == 409
    assert f"{DREAM}: This item has been renewed the most times allowed (5)." in refused.text

    clock_of(patrons).advance((21 + 87) * DAY)  # HK$130 on the other loan: the fines limit
    await browser.sign_in("hkpl", "HKPL0001", VALID)
    blocked = await browser.post(f"/hkpl/account/loans/{shelf.reserved}/renew")
    assert blocked.status_code == 409
    assert "Your fines have reached the limit. Please pay them before renewing." in blocked.text
    fines = await browser.get("/hkpl/account/fines")
    assert "You owe HK$130.00." in fines.text
    assert "From HK$130.00 owed, renewals and reservations stop" in fines.text


# --- reservations -------------------------------------------------------------------------


async def test_search_reserve_and_cancel(patrons: App, shelf: Shelf, browser: Browser) -> None:
    await signed_in(browser)
    empty = await browser.get("/hkpl/account/holds")
    assert "You have no reservations." in empty.text
    assert 'href="/hkpl/account/catalogue"' in empty.text

    found = await browser.get("/hkpl/account/catalogue?q=guanzhong")  # the author's name
    assert found.status_code == 200
    assert KINGDOMS in found.text
    assert "1 in all, 0 on the shelf" in found.text
    assert '<option value="KLN">Kowloon Public Library</option>' in found.text
    assert f'<label class="field__label" for="pickup-{shelf.out}">' in found.text

    placed = await browser.post(
        "/hkpl/account/holds", {"title": str(shelf.out), "pickup": "KLN", "q": "guanzhong"}
    )
    assert placed.status_code == 303
    assert placed.headers["location"].startswith("/hkpl/account/holds?placed=")
    page = await browser.follow(placed)
    assert f"Reserved: {KINGDOMS}." in page.text
    assert "Waiting: number 1 in the queue" in page.text
    assert "To collect at Kowloon Public Library" in page.text

    ready = await browser.post(
        "/hkpl/account/holds", {"title": str(shelf.on_shelf), "pickup": "STN"}
    )
    page = await browser.follow(ready)
    assert f"Reserved: {MARGIN}." in page.text
    assert "Ready for collection at Sha Tin Public Library until 1 December 2026" in words(
        page.text
    )
    summary = await browser.get("/hkpl/account")
    assert "Reservations: 2</a>" in summary.text
    assert "1 ready for collection" in summary.text

    mine = record(patrons.ports, shelf.reader).holds
    waiting = next(v.hold.id for v in mine if v.title.title == KINGDOMS)
    asked = await browser.get(f"/hkpl/account/holds/{waiting}/cancel")  # it asks first
    assert f"Cancel your reservation of {KINGDOMS}?" in asked.text
    assert hold_status(patrons, waiting) == HoldStatus.WAITING
    cancelled = await browser.post(f"/hkpl/account/holds/{waiting}/cancel")
    assert cancelled.headers["location"] == f"/hkpl/account/holds?cancelled={waiting}"
    page = await browser.follow(cancelled)
    assert f"Your reservation of {KINGDOMS} has been cancelled." in page.text
    assert KINGDOMS not in page.text.split('id="holds-title"')[1]
    assert hold_status(patrons, waiting) == HoldStatus.CANCELLED

    again = await browser.post(f"/hkpl/account/holds/{waiting}/cancel")
    assert again.status_code == 409
    assert "This reservation has already ended." in again.text


@pytest.mark.parametrize(
    ("title", "pickup", "status", "message"),
    [
        ("out", "CEN", 409, "You have already reserved this title."),
        ("dream", "CEN", 409, "You have this title on loan already."),
        ("out", "PAO", 422, "Choose one of the libraries listed for collection."),
    ],
)
async def test_a_refused_reservation_says_why_beside_its_title(
    patrons: App,
    shelf: Shelf,
    browser: Browser,
    title: str,
    pickup: str,
    status: int,
    message: str,
) -> None:
    place_reservation(patrons.ports, shelf.reader, shelf.out, "CEN", channel="web")
    dream = search(patrons.ports, "hkpl", DREAM)[0][0].id
    title_id = {"out": shelf.out, "dream": dream}[title]
    await signed_in(browser)
    before = stored(patrons)
    refused = await browser.post(
        "/hkpl/account/holds", {"title": str(title_id), "pickup": pickup, "q": "o"}
    )
    assert refused.status_code == status
    assert f'<a href="#pickup-{title_id}">' in refused.text
    assert message in refused.text
    assert "Results for “o”" in refused.text  # the search is shown again
    assert stored(patrons) == before


async def test_the_catalogue_search_says_what_is_wrong_with_the_words(
    patrons: App, shelf: Shelf, browser: Browser
) -> None:
    await signed_in(browser)
    nothing = await browser.get("/hkpl/account/catalogue?q=Analects")
    assert "Nothing in the catalogue matches." in nothing.text
    form_only = await browser.get("/hkpl/account/catalogue")
    assert "Results for" not in form_only.text
    markup = await browser.get("/hkpl/account/catalogue?q=%3Cb%3Ewest")
    assert markup.status_code == 422
    assert "The search text contains control characters or markup (&lt; or &gt;)." in markup.text
    long = await browser.get("/hkpl/account/catalogue?q=" + "w" * 301)
    assert long.status_code == 422
    assert "The search text has at most 300 characters." in long.text


# --- fines --------------------------------------------------------------------------------


async def test_fines_payments_and_the_balance(patrons: App, shelf: Shelf, browser: Browser) -> None:
    clock_of(patrons).advance((21 + 31) * DAY)  # 31 days overdue: HK$46.50 each
    back = checkin(patrons.ports, "B0001", "hkpl", actor=STAFF, channel="staff")
    assert back.fine == 4650
    pay_fines(patrons.ports, "HKPL0001", 1000, staff=STAFF)
    await signed_in(browser)
    page = await browser.get("/hkpl/account/fines")
    assert page.status_code == 200
    text = page.text
    assert "You owe HK$83.00." in text
    assert "Of this, HK$46.50 is still growing on overdue items" in text
    assert "Overdue item" in text
    assert "15 January 2027" in text  # charged at the return
    assert "HK$10.00" in text
    assert JOURNEY in text  # still out, accruing


async def test_nothing_owed(patrons: App, shelf: Shelf, browser: Browser) -> None:
    await signed_in(browser)
    page = await browser.get("/hkpl/account/fines")
    assert "You owe nothing." in page.text
    assert "No fines have been charged." in page.text
    assert "No payments yet." in page.text


# --- whose records ------------------------------------------------------------------------


async def test_another_patrons_loan_or_reservation_is_not_found_and_nothing_changes(
    patrons: App, shelf: Shelf, browser: Browser
) -> None:
    polyu = add_item(patrons.ports, "polyu", barcode="P0001", title="Fortress Besieged",
                          staff=STAFF)  # fmt: skip
    await signed_in(browser)
    before = stored(patrons)
    loan = await browser.post(f"/hkpl/account/loans/{shelf.others_loan}/renew")
    assert loan.status_code == 404
    assert "There is no such loan on your account." in loan.text
    hold = await browser.post(f"/hkpl/account/holds/{shelf.others_hold}/cancel")
    assert hold.status_code == 404
    assert "There is no such reservation on your account." in hold.text
    elsewhere = await browser.post(
        "/hkpl/account/holds", {"title": str(polyu.title_id), "pickup": "CEN"}
    )
    assert elsewhere.status_code == 404
    assert "There is no such title in the catalogue." in elsewhere.text
    assert stored(patrons) == before
    assert hold_status(patrons, shelf.others_hold) == HoldStatus.WAITING
    for path in ("/polyu/account/loans", "/polyu/account/holds", "/polyu/account/fines"):
        answer = await browser.get(path)  # signed in at HKPL, not at PolyU
        assert answer.headers["location"] == "/polyu/sign-in", path


async def test_a_must_change_session_reaches_none_of_it(
    patrons: App, shelf: Shelf, browser: Browser
) -> None:
    signed = await browser.sign_in("hkpl", "HKPL0001", "4567")
    assert signed.headers["location"] == "/hkpl/change-required"
    before = stored(patrons)
    for path in ("loans", "holds", "fines", "catalogue?q=west", "requests"):
        answer = await browser.get(f"/hkpl/account/{path}")
        assert answer.headers["location"] == "/hkpl/change-required", path
    for path, data in [
        (f"loans/{shelf.renewable}/renew", {}),
        ("loans/renew-all", {}),
        ("holds", {"title": str(shelf.on_shelf), "pickup": "CEN"}),
        (f"holds/{shelf.others_hold}/cancel", {}),
    ]:
        answer = await browser.post(f"/hkpl/account/{path}", data)
        assert answer.status_code == 303, path
        assert answer.headers["location"] == "/hkpl/change-required", path
    assert stored(patrons) == before


async def test_signed_out_visitors_are_sent_to_sign_in(patrons: App, browser: Browser) -> None:
    for path in ("loans", "holds", "fines", "catalogue", "requests"):
        answer = await browser.get(f"/hkpl/account/{path}")
        assert answer.headers["location"] == "/hkpl/sign-in?notice=session.missing", path
    refused = await browser.post("/hkpl/account/loans/renew-all")
    assert refused.headers["location"] == "/hkpl/sign-in?notice=session.missing"


async def test_the_pages_in_traditional_chinese(
    patrons: App, shelf: Shelf, browser: Browser
) -> None:
    await signed_in(browser)
    await browser.post("/language", {"language": "zh_Hant", "next": "/hkpl/account/loans"})
    refused = await browser.post(f"/hkpl/account/loans/{shelf.reserved}/renew")
    text = refused.text
    assert 'lang="zh-Hant-HK"' in text
    for word in ("借閱", "到期日", "全部續借"):
        assert word in text
    assert f"{JOURNEY}：此資料已有其他讀者預約，因此不能續借。" in text
    assert "2026年12月15日" in text
    holds = await browser.get("/hkpl/account/catalogue?q=margin")
    assert "預約書目" in holds.text
    assert "沙田公共圖書館" in holds.text
    fines = await browser.get("/hkpl/account/fines")
    assert "你沒有欠款。" in fines.text
