"""The account behind the login in the app (R8, R28): GET /me/loans, POST
/me/loans/{id}/renewal, GET/POST/DELETE /me/holds, GET /me/fines, GET /titles and PolyU's
GET/POST /me/requests. Refusals by the library's rules are 409 with the reason code as
`error`; another patron's records are 404; a must-change token reaches none of it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from patronauth.bootstrap import App
from patronauth.services.catalogue import add_item, search
from patronauth.services.fines import pay_fines
from patronauth.services.holds import place_reservation
from patronauth.services.loans import checkin, checkout, renew_loan
from tests.api.helpers import bearer, chosen_password, sign_in
from tests.api.test_bad_input import stored
from tests.support import STAFF, clock_of, register
from tests.web.lending import DREAM, JOURNEY, KINGDOMS, MARGIN, Shelf, patron_id, stock

pytestmark = pytest.mark.anyio

DAY = 86400
RESERVED = "Another reader has reserved this item, so it cannot be renewed."


@pytest.fixture
def shelf(hkpl: App) -> Shelf:
    return stock(hkpl)


@pytest.fixture
async def token(shelf: Shelf, client: httpx.AsyncClient) -> str:
    return await chosen_password(client)


async def test_loans_with_due_dates_overdue_and_the_fine_so_far(
    hkpl: App, shelf: Shelf, client: httpx.AsyncClient
) -> None:
    clock_of(hkpl).advance(26 * DAY)
    token = await chosen_password(client)
    answer = await client.get("/api/v1/me/loans", headers=bearer(token))
    assert answer.status_code == 200
    body = answer.json()
    assert (body["today"], body["currency"]) == ("2026-12-20", "HKD")  # ISO 4217
    assert body["currency_symbol"] == "HK$"
    assert [loan["title"] for loan in body["loans"]] == [DREAM, JOURNEY]
    assert body["loans"][0] == {
        "id": shelf.renewable,
        "title_id": body["loans"][0]["title_id"],
        "title": DREAM,
        "author": "Cao Xueqin",
        "item_barcode": "B0001",
        "checked_out_on": "2026-11-24",
        "due_on": "2026-12-15",
        "overdue": True,
        "fine_so_far": 750,
        "renewals": 0,
        "renewals_left": 5,
    }


async def test_a_renewal_answers_the_loan_as_it_now_is(
    hkpl: App, shelf: Shelf, client: httpx.AsyncClient, token: str
) -> None:
    answer = await client.post(f"/api/v1/me/loans/{shelf.renewable}/renewal", headers=bearer(token))
    assert answer.status_code == 200
    assert (answer.json()["due_on"], answer.json()["renewals"]) == ("2027-01-05", 1)
    assert answer.json()["renewals_left"] == 4
    with hkpl.ports.uow() as uow:
        (latest,) = uow.audit.recent(patron_id=shelf.reader, limit=1)
    assert (latest.event.action, latest.event.channel, latest.event.outcome) == (
        "renewal",
        "app",
        "ok",
    )


def _renew_five_times(app: App, shelf: Shelf) -> int:
    for _ in range(5):
        renew_loan(app.ports, shelf.reader, shelf.renewable, channel="app")
    return shelf.renewable


def _fines_limit(app: App, shelf: Shelf) -> int:
    clock_of(app).advance((21 + 87) * DAY)  # HK$130 on each loan: the limit is HK$130
    return shelf.renewable


def _reserved(app: App, shelf: Shelf) -> int:
    return shelf.reserved


@pytest.mark.parametrize(
    ("setup", "error", "message"),
    [
        (_reserved, "renewal.reserved", RESERVED),
        (_renew_five_times, "renewal.max_renewals",
         "This item has been renewed the most times allowed (5)."),
        (_fines_limit, "renewal.fines_block",
         "Your fines have reached the limit. Please pay them before renewing."),
    ],
    ids=["reserved", "max_renewals", "fines_block"],
)  # fmt: skip
async def test_a_refused_renewal_is_409_with_its_reason(
    hkpl: App,
    shelf: Shelf,
    client: httpx.AsyncClient,
    setup: Callable[[App, Shelf], int],
    error: str,
    message: str,
) -> None:
    loan_id = setup(hkpl, shelf)
    token = await chosen_password(client)
    due = (await client.get("/api/v1/me/loans", headers=bearer(token))).json()
    answer = await client.post(f"/api/v1/me/loans/{loan_id}/renewal", headers=bearer(token))
    assert answer.status_code == 409
    assert answer.json() == {"error": error, "message": message}
    assert (await client.get("/api/v1/me/loans", headers=bearer(token))).json() == due


async def test_overdue_items_stop_renewals_where_the_library_says_so(
    app: App, client: httpx.AsyncClient
) -> None:
    register(app, "polyu", "21012345A", id_number="XY12345678")
    add_item(app.ports, "polyu", barcode="P0001", title="Fortress Besieged", staff=STAFF)
    lent = checkout(app.ports, "21012345A", "P0001", actor=STAFF, channel="staff")
    clock_of(app).advance(29 * DAY)  # PolyU lends for 28 days and blocks when overdue
    opened = await sign_in(client, "21012345A", "XY1234")
    await client.put(
        "/api/v1/me/pin",
        headers=bearer(opened["token"]),
        json={"current": "XY1234", "new": "lib2046x", "confirm": "lib2046x"},
    )
    answer = await client.post(
        f"/api/v1/me/loans/{lent.loan.id}/renewal",
        headers={**bearer(opened["token"]), "Accept-Language": "zh-Hant"},
    )
    assert answer.status_code == 409
    assert answer.json()["error"] == "renewal.overdue_block"
    assert answer.json()["message"] != "Please return your overdue items before renewing."


async def test_reserve_list_and_cancel(
    hkpl: App, shelf: Shelf, client: httpx.AsyncClient, token: str
) -> None:
    ready = await client.post(
        "/api/v1/me/holds",
        headers=bearer(token),
        json={"title_id": shelf.on_shelf, "pickup": "STN"},
    )
    assert ready.status_code == 201
    assert ready.json() == {
        "id": ready.json()["id"],
        "title_id": shelf.on_shelf,
        "title": MARGIN,
        "author": "Shi Nai'an",
        "pickup": "STN",
        "pickup_name": "Sha Tin Public Library",
        "status": "ready",
        "position": None,
        "ready_until": "2026-12-01",
        "placed_at": "2026-11-24T10:00:00Z",
    }
    waiting = await client.post(
        "/api/v1/me/holds",
        headers={**bearer(token), "Accept-Language": "zh-Hant"},
        json={"title_id": shelf.out, "pickup": "KLN"},
    )
    assert waiting.status_code == 201
    assert (waiting.json()["status"], waiting.json()["position"]) == ("waiting", 1)
    assert waiting.json()["pickup_name"] == "九龍公共圖書館"
    listed = (await client.get("/api/v1/me/holds", headers=bearer(token))).json()["holds"]
    assert [(h["title"], h["status"]) for h in listed] == [(MARGIN, "ready"), (KINGDOMS, "waiting")]

    hold_id = waiting.json()["id"]
    gone = await client.delete(f"/api/v1/me/holds/{hold_id}", headers=bearer(token))
    assert (gone.status_code, gone.content) == (204, b"")
    again = await client.delete(f"/api/v1/me/holds/{hold_id}", headers=bearer(token))
    assert again.status_code == 409
    assert again.json() == {
        "error": "hold.not_active",
        "message": "This reservation has already ended.",
    }
    listed = (await client.get("/api/v1/me/holds", headers=bearer(token))).json()["holds"]
    assert [h["title"] for h in listed] == [MARGIN]


def _duplicate(app: App, shelf: Shelf) -> int:
    place_reservation(app.ports, shelf.reader, shelf.out, "CEN", channel="web")
    return shelf.out


def _on_loan(app: App, shelf: Shelf) -> int:
    return search(app.ports, "hkpl", DREAM)[0][0].id


def _too_many(app: App, shelf: Shelf) -> int:
    for number in range(8):  # HKPL: eight reservations at most
        item = add_item(app.ports, "hkpl", barcode=f"M{number}", title=f"Volume {number}",
                             staff=STAFF)  # fmt: skip
        place_reservation(app.ports, shelf.reader, item.title_id, "CEN", channel="web")
    return shelf.out


def _owing(app: App, shelf: Shelf) -> int:
    clock_of(app).advance((21 + 87) * DAY)
    return shelf.on_shelf


@pytest.mark.parametrize(
    ("setup", "error"),
    [
        (_duplicate, "hold.duplicate"),
        (_on_loan, "hold.already_on_loan"),
        (_too_many, "hold.too_many"),
        (_owing, "hold.fines_block"),
    ],
    ids=["duplicate", "already_on_loan", "too_many", "fines_block"],
)
async def test_a_refused_reservation_is_409_with_its_reason(
    hkpl: App,
    shelf: Shelf,
    client: httpx.AsyncClient,
    setup: Callable[[App, Shelf], int],
    error: str,
) -> None:
    title_id = setup(hkpl, shelf)
    token = await chosen_password(client)
    before = stored(hkpl)
    answer = await client.post(
        "/api/v1/me/holds", headers=bearer(token), json={"title_id": title_id, "pickup": "CEN"}
    )
    assert answer.status_code == 409
    assert answer.json()["error"] == error
    assert answer.json()["message"]
    assert stored(hkpl)["holds"] == before["holds"]


async def test_an_unknown_pickup_library_is_invalid_input(
    hkpl: App, shelf: Shelf, client: httpx.AsyncClient, token: str
) -> None:
    answer = await client.post(
        "/api/v1/me/holds", headers=bearer(token), json={"title_id": shelf.out, "pickup": "PAO"}
    )
    assert answer.status_code == 422
    assert answer.json() == {
        "error": "invalid_input",
        "message": "Choose one of the libraries listed for collection.",
        "violations": [
            {
                "code": "hold.unknown_pickup",
                "message": "Choose one of the libraries listed for collection.",
                "field": "pickup",
            }
        ],
    }


async def test_another_patrons_loan_hold_or_library_is_not_found_and_nothing_changes(
    hkpl: App, shelf: Shelf, client: httpx.AsyncClient, token: str
) -> None:
    elsewhere = add_item(hkpl.ports, "polyu", barcode="P0001", title="Fortress Besieged",
                              staff=STAFF)  # fmt: skip
    before = stored(hkpl)
    for method, path, body, message in [
        ("POST", f"/api/v1/me/loans/{shelf.others_loan}/renewal", None,
         "There is no such loan on your account."),
        ("DELETE", f"/api/v1/me/holds/{shelf.others_hold}", None,
         "There is no such reservation on your account."),
        ("POST", "/api/v1/me/holds", {"title_id": elsewhere.title_id, "pickup": "CEN"},
         "There is no such title in the catalogue."),
        ("POST", f"/api/v1/me/loans/{2**63 - 1}/renewal", None,
         "There is no such loan on your account."),
    ]:  # fmt: skip
        answer = await client.request(method, path, headers=bearer(token), json=body)
        assert answer.status_code == 404, path
        assert answer.json() == {"error": "not_found", "message": message}
    assert stored(hkpl) == before
    search = await client.get("/api/v1/titles", params={"q": "Fortress"}, headers=bearer(token))
    assert search.json() == {"titles": []}  # another library's catalogue


async def test_the_catalogue_search(
    hkpl: App, shelf: Shelf, client: httpx.AsyncClient, token: str
) -> None:
    async def titles(q: str) -> Any:
        answer = await client.get("/api/v1/titles", params={"q": q}, headers=bearer(token))
        assert answer.status_code == 200
        return answer.json()["titles"]

    assert await titles("margin") == [
        {
            "id": shelf.on_shelf,
            "title": MARGIN,
            "author": "Shi Nai'an",
            "isbn": None,
            "copies": 1,
            "on_shelf": 1,
        }
    ]
    assert [t["title"] for t in await titles("  WU  cheng ")] == [JOURNEY]  # author, any case
    assert await titles("") == []
    assert await titles("100%") == []  # a LIKE pattern is only text
    assert (await client.get("/api/v1/titles", headers=bearer(token))).json() == {"titles": []}


async def test_fines_and_payments(hkpl: App, shelf: Shelf, client: httpx.AsyncClient) -> None:
    clock_of(hkpl).advance((21 + 31) * DAY)
    checkin(hkpl.ports, "B0001", "hkpl", actor=STAFF, channel="staff")
    pay_fines(hkpl.ports, "HKPL0001", 1000, staff=STAFF)
    token = await chosen_password(client)
    body = (await client.get("/api/v1/me/fines", headers=bearer(token))).json()
    fine, payment = body["fines"][0], body["payments"][0]
    assert body == {
        "currency": "HKD",
        "currency_symbol": "HK$",
        "balance": 8300,
        "accruing": 4650,
        "fines_block": 13000,
        "blocked": False,
        "fines": [
            {
                "id": fine["id"],
                "loan_id": shelf.renewable,
                "amount": 4650,
                "reason": "overdue",
                "charged_on": "2027-01-15",
            }
        ],
        "payments": [{"id": payment["id"], "amount": 1000, "paid_at": "2027-01-15T10:00:00Z"}],
    }


async def test_polyu_requests_are_sent_and_listed(app: App, client: httpx.AsyncClient) -> None:
    register(app, "polyu", "21012345A", id_number="XY12345678")
    opened = await sign_in(client, "21012345A", "XY1234")
    headers = bearer(opened["token"])
    await client.put(
        "/api/v1/me/pin", headers=headers, json={"current": "XY1234", "new": "lib2046x",
                                                 "confirm": "lib2046x"},
    )  # fmt: skip
    assert (await client.get("/api/v1/me/requests", headers=headers)).json() == {"requests": []}
    sent = await client.post(
        "/api/v1/me/requests",
        headers=headers,
        json={"kind": "interlibrary_loan", "title": " 紅樓夢 ", "note": "From HKU"},
    )
    assert sent.status_code == 201
    made = sent.json()
    assert made == {
        "id": made["id"],
        "kind": "interlibrary_loan",
        "title": "紅樓夢",
        "author": "",
        "note": "From HKU",
        "status": "submitted",
        "created_at": "2026-11-24T10:00:00Z",
        "updated_at": "2026-11-24T10:00:00Z",
    }
    assert (await client.get("/api/v1/me/requests", headers=headers)).json() == {"requests": [made]}
    bad = await client.post(
        "/api/v1/me/requests",
        headers={**headers, "Accept-Language": "zh-Hant"},
        json={"kind": "recommendation", "title": "", "author": "<b>", "note": "n" * 1001},
    )
    assert bad.status_code == 422
    assert [(v["code"], v["field"]) for v in bad.json()["violations"]] == [
        ("request.title_missing", "title"),
        ("request.invalid_characters", "author"),
        ("request.too_long", "note"),
    ]
    assert [v["message"] for v in bad.json()["violations"]][1:] == [
        "作者 包含控制字元或標記（< 或 >）。",
        "備註 最多 1000 個字元。",
    ]
    assert len((await client.get("/api/v1/me/requests", headers=headers)).json()["requests"]) == 1


async def test_libraries_without_requests_answer_not_offered(
    hkpl: App, client: httpx.AsyncClient
) -> None:
    token = await chosen_password(client)
    for method, body in [("GET", None), ("POST", {"kind": "recommendation", "title": "x"})]:
        answer = await client.request(method, "/api/v1/me/requests", headers=bearer(token),
                                      json=body)  # fmt: skip
        assert answer.status_code == 404
        assert answer.json() == {
            "error": "request.not_offered",
            "message": "This library does not take such requests online.",
        }


ACCOUNT_OPERATIONS: list[tuple[str, str, dict[str, Any] | None]] = [
    ("GET", "/api/v1/me/loans", None),
    ("POST", "/api/v1/me/loans/1/renewal", None),
    ("GET", "/api/v1/me/holds", None),
    ("POST", "/api/v1/me/holds", {"title_id": 3, "pickup": "CEN"}),
    ("DELETE", "/api/v1/me/holds/1", None),
    ("GET", "/api/v1/me/fines", None),
    ("GET", "/api/v1/titles?q=west", None),
    ("GET", "/api/v1/me/requests", None),
    ("POST", "/api/v1/me/requests", {"kind": "recommendation", "title": "x"}),
]


async def test_a_must_change_token_reaches_none_of_it(
    hkpl: App, shelf: Shelf, client: httpx.AsyncClient
) -> None:
    opened = await sign_in(client, "HKPL0001", "4567")
    before = stored(hkpl)
    for method, path, body in ACCOUNT_OPERATIONS:
        answer = await client.request(method, path, headers=bearer(opened["token"]), json=body)
        assert answer.status_code == 403, path
        assert answer.json()["error"] == "must_change", path
        unsigned = await client.request(method, path, json=body)
        assert (unsigned.status_code, unsigned.json()["error"]) == (401, "not_signed_in"), path
    assert stored(hkpl)["holds"] == before["holds"]
    assert stored(hkpl)["loans"] == before["loans"]
    assert patron_id(hkpl, "HKPL0001") == shelf.reader
