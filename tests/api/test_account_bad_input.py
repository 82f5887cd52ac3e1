"""SPEC 7 on the account behind the login: numbers in the address that are no numbers
or out of range, bad search words, bad request texts. A clear error in the error shape,
never a 5xx, and nothing stored."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from patronauth.bootstrap import App
from tests.api.helpers import bearer, chosen_password, sign_in
from tests.api.test_bad_input import HTML, PAYLOADS, SQL, assert_error_shape, stored
from tests.support import register
from tests.web.lending import Shelf, stock

pytestmark = pytest.mark.anyio

NOT_IDS = ["abc", "0", "-1", "1.5", "1e3", "%EF%BC%91", "9" * 30, str(2**63), "1%00",
           "%27%20OR%201%3D1", "%3Cscript%3E", "true", "null"]  # fmt: skip


@pytest.fixture
def shelf(hkpl: App) -> Shelf:
    return stock(hkpl)


@pytest.fixture
async def token(shelf: Shelf, client: httpx.AsyncClient) -> str:
    return await chosen_password(client)


async def test_ids_that_are_no_numbers_or_out_of_range_are_invalid_input(
    hkpl: App, shelf: Shelf, client: httpx.AsyncClient, token: str
) -> None:
    before = stored(hkpl)
    for segment in NOT_IDS:
        for method, path, field in [
            ("POST", f"/api/v1/me/loans/{segment}/renewal", "loan_id"),
            ("DELETE", f"/api/v1/me/holds/{segment}", "hold_id"),
        ]:
            answer = await client.request(method, path, headers=bearer(token))
            assert answer.status_code == 422, (method, segment)
            body = answer.json()
            assert body["error"] == "invalid_input"
            assert [v["field"] for v in body["violations"]] == [field]
            assert "<script>" not in answer.text
    assert stored(hkpl) == before


async def test_bad_search_words_are_named(
    hkpl: App, shelf: Shelf, client: httpx.AsyncClient, token: str
) -> None:
    before = stored(hkpl)
    for q in ["\x00", "a\x1b[2J", "<script>alert(1)</script>", "w" * 301, "w" * 60_000]:
        answer = await client.get("/api/v1/titles", params={"q": q}, headers=bearer(token))
        assert_error_shape(answer, {422})
        (violation,) = answer.json()["violations"]
        assert violation["field"] == "q"
        assert violation["code"] in {"request.invalid_characters", "request.too_long"}
        assert violation["message"].startswith("The search text ")
    for q in SQL:
        answer = await client.get("/api/v1/titles", params={"q": q}, headers=bearer(token))
        assert answer.json() == {"titles": []}
    assert stored(hkpl) == before


async def test_bad_values_in_every_field_of_a_reservation_or_a_request(
    app: App, client: httpx.AsyncClient
) -> None:
    register(app, "polyu", "21012345A", id_number="XY12345678")
    opened = await sign_in(client, "21012345A", "XY1234")
    headers = bearer(opened["token"])
    await client.put(
        "/api/v1/me/pin", headers=headers, json={"current": "XY1234", "new": "lib2046x",
                                                 "confirm": "lib2046x"},
    )  # fmt: skip
    before = stored(app)
    valid: list[tuple[str, dict[str, Any], set[int]]] = [
        ("/api/v1/me/holds", {"title_id": 1, "pickup": "PAO"}, {404, 422}),
        ("/api/v1/me/requests", {"kind": "recommendation", "title": "x", "note": ""}, {422}),
    ]
    # In a request's texts SQL and entities are only text, stored as typed (below); line
    # breaks become spaces; an author or note may be left empty.
    texts = {*SQL, "&lt;b&gt;&#0;", "line\nbreak"}
    for path, body, allowed in valid:
        for field in body:
            for payload in PAYLOADS:
                skipped = isinstance(payload, str) and (
                    payload in texts or (field != "title" and not payload)
                )
                if path.endswith("requests") and field != "kind" and skipped:
                    continue
                answer = await client.post(
                    path,
                    headers={**headers, "Content-Type": "application/json"},
                    content=json.dumps({**body, field: payload}).encode("ascii"),
                )
                assert_error_shape(answer, allowed)
                assert answer.status_code in allowed, (field, payload)
    assert stored(app) == {**before, "audit_events": stored(app)["audit_events"]}

    for title in [*SQL, "&lt;b&gt;"]:
        sent = await client.post(
            "/api/v1/me/requests", headers=headers, json={"kind": "recommendation", "title": title}
        )
        assert (sent.status_code, sent.json()["title"]) == (201, title)
    titles = (await client.get("/api/v1/me/requests", headers=headers)).json()["requests"]
    assert sorted(r["title"] for r in titles) == sorted([*SQL, "&lt;b&gt;"])
    assert HTML[0] not in [r["title"] for r in titles]
