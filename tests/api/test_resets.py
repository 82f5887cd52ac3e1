"""POST /api/v1/password-resets: 202 and the same bytes whatever was found (R7, R14, S4)."""

from __future__ import annotations

import httpx
import pytest

from patronauth.bootstrap import App
from tests.api.helpers import (
    HKPL_PASSWORD,
    chosen_password,
    mails,
    sign_in,
    temporary_password,
    text_of,
)
from tests.support import register

pytestmark = pytest.mark.anyio

RESETS = "/api/v1/password-resets"


@pytest.mark.parametrize(
    ("body", "sent"),
    [
        ({"email": "chan@example.org"}, 1),
        ({"identifier": "hkpl0001", "email": "CHAN@example.org"}, 1),
        ({"identifier": "HKPL0001", "email": "chan@example.org", "institution": "hkpl"}, 1),
        ({"identifier": "HKPL0001"}, 0),  # the address must match too
        ({"identifier": "HKPL0001", "email": "someone@example.org"}, 0),
        ({"email": "nobody@example.org"}, 0),
        ({"identifier": "HKPL9999", "email": "chan@example.org"}, 0),
        ({"email": "chan@example.org", "institution": "polyu"}, 0),
        ({"email": "chan@example.org", "institution": "nowhere"}, 0),
        ({"email": "not an address"}, 0),
        ({"identifier": None, "email": None}, 0),
        ({}, 0),
    ],
)
async def test_every_request_gets_202_with_the_same_bytes(
    hkpl: App, client: httpx.AsyncClient, body: dict[str, str | None], sent: int
) -> None:
    answer = await client.post(RESETS, json=body)
    assert answer.status_code == 202
    assert answer.json() == {
        "message": "If the details match a library account, we have sent an e-mail to its "
        "registered address. Without a registered e-mail address, please ask at a library "
        "counter."
    }
    assert len(mails(hkpl)) == sent


async def test_hkpl_mails_a_temporary_password_that_signs_in_to_the_change_step(
    hkpl: App, client: httpx.AsyncClient
) -> None:
    await chosen_password(client)
    sent = await client.post(RESETS, json={"identifier": "HKPL0001", "email": "chan@example.org"})
    assert sent.status_code == 202
    temporary = temporary_password(hkpl)
    # The chosen password keeps working until the temporary one is used (S5).
    assert (await sign_in(client, "HKPL0001", HKPL_PASSWORD))["must_change"] is False
    opened = await sign_in(client, "HKPL0001", temporary)
    assert (opened["must_change"], opened["credential"]) == (True, "password")


async def test_polyu_mails_a_link_and_hkct_nothing(app: App, client: httpx.AsyncClient) -> None:
    register(app, "polyu", "21012345A", id_number="Z123456(1)", email="polyu@example.org")
    register(app, "hkct", "S2019001", category="staff", staff_number="S2019001",
             email="hkct@example.org")  # fmt: skip
    answers = [
        await client.post(RESETS, json={"email": email}, headers={"Accept-Language": "zh-Hant"})
        for email in ("polyu@example.org", "hkct@example.org", "nobody@example.org")
    ]
    assert {(a.status_code, a.content) for a in answers} == {(202, answers[0].content)}
    assert "如資料與圖書館帳戶相符" in answers[0].json()["message"]
    assert [m["To"] for m in mails(app)] == ["polyu@example.org"]
    assert "/polyu/reset/" in text_of(mails(app)[0])
