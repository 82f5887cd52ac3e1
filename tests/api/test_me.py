"""GET /api/v1/me: the patron as the app shows them, personal data masked (S9)."""

from __future__ import annotations

import httpx
import pytest

from patronauth.bootstrap import App
from tests.api.helpers import bearer, chosen_password, sign_in
from tests.support import register

pytestmark = pytest.mark.anyio


async def test_me_shows_the_patron_masked_with_credential_states(
    hkpl: App, client: httpx.AsyncClient
) -> None:
    token = await chosen_password(client)
    answer = await client.get("/api/v1/me", headers=bearer(token))
    assert answer.status_code == 200
    assert answer.json() == {
        "institution": "hkpl",
        "library": "Hong Kong Public Libraries",
        "category": "reader",
        "name": "Chan Tai Man",
        "card_number": "HKPL0001",
        "id_type": "hkid",
        "id_number_masked": "Z1******",
        "phone_masked": "91******",
        "email": "chan@example.org",
        "language": "en",
        "credentials": [
            {
                "kind": "password",
                "label": "online password",
                "state": "chosen",
                "set_at": "2026-11-24T10:00:00Z",
                "expires_at": None,
            },
            {
                "kind": "pin",
                "label": "PIN",
                "state": "default",
                "set_at": "2026-11-24T10:00:00Z",
                "expires_at": None,
            },
        ],
        "defaults_in_use": ["pin"],  # R4: the PIN is still the last 4 phone digits
    }
    for secret in ("Z123456", "91234567", "4567"):
        assert secret not in answer.text


async def test_me_speaks_traditional_chinese_when_asked(
    hkpl: App, client: httpx.AsyncClient
) -> None:
    token = await chosen_password(client)
    answer = await client.get(
        "/api/v1/me", headers={**bearer(token), "Accept-Language": "zh-TW,zh;q=0.9,en;q=0.8"}
    )
    body = answer.json()
    assert body["library"] == "香港公共圖書館"
    assert [c["label"] for c in body["credentials"]] == ["網上密碼", "個人密碼"]


async def test_a_polyu_patron_has_only_a_pin(app: App, client: httpx.AsyncClient) -> None:
    register(app, "polyu", "21012345A", id_number="XY12345678", language="zh_Hant")
    opened = await sign_in(client, "21012345A", "XY1234")
    assert (opened["credential"], opened["must_change"]) == ("pin", True)
    changed = await client.put(
        "/api/v1/me/pin",
        headers=bearer(opened["token"]),
        json={"current": "XY1234", "new": "lib2046x", "confirm": "lib2046x"},
    )
    assert changed.status_code == 204
    body = (await client.get("/api/v1/me", headers=bearer(opened["token"]))).json()
    assert [(c["kind"], c["state"]) for c in body["credentials"]] == [("pin", "chosen")]
    assert body["defaults_in_use"] == []
    assert body["id_number_masked"] == "XY********"
    assert body["language"] == "zh_Hant"
