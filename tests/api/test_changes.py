"""PUT /api/v1/me/password and PUT /api/v1/me/pin (R6, R13, R18, S3, S6, S8)."""

from __future__ import annotations

import re
from datetime import date

import httpx
import pytest

from patronauth.bootstrap import App
from tests.api.helpers import HKPL_PASSWORD, bearer, chosen_password, mails, sign_in, text_of
from tests.support import clock_of, register

pytestmark = pytest.mark.anyio


async def change(
    client: httpx.AsyncClient,
    token: str,
    kind: str,
    current: str,
    new: str,
    confirm: str | None = None,
    **headers: str,
) -> httpx.Response:
    return await client.put(
        f"/api/v1/me/{kind}",
        headers={**bearer(token), **headers},
        json={"current": current, "new": new, "confirm": new if confirm is None else confirm},
    )


async def test_a_change_takes_effect_ends_other_sessions_and_sends_a_notice(
    hkpl: App, client: httpx.AsyncClient
) -> None:
    token = await chosen_password(client)
    other = str((await sign_in(client, "HKPL0001", HKPL_PASSWORD))["token"])
    changed = await change(client, token, "pin", "4567", "2046")
    assert (changed.status_code, changed.content) == (204, b"")
    assert (await client.get("/api/v1/me", headers=bearer(token))).status_code == 200
    assert (await client.get("/api/v1/me", headers=bearer(other))).json()["error"] == "signed_out"
    notices = [m for m in mails(hkpl) if m["Subject"] == "Your library PIN was changed"]
    assert len(notices) == 1
    assert "2046" not in text_of(notices[0])
    states = (await client.get("/api/v1/me", headers=bearer(token))).json()["credentials"]
    assert [c["state"] for c in states] == ["chosen", "chosen"]


@pytest.mark.parametrize(
    ("kind", "new", "codes"),
    [
        ("password", "abc", ["password.too_short", "password.missing_digit",
                             "password.missing_special", "password.missing_upper"]),
        ("password", "Password1", ["password.missing_special"]),
        ("password", "Password1!", ["password.common"]),
        ("password", "Chan#Reader2026", ["password.contains_name"]),
        ("password", HKPL_PASSWORD, ["password.unchanged"]),
        ("pin", "12a4", ["pin.not_digits"]),
        ("pin", "1234", ["pin.common"]),
        ("pin", "123", ["pin.too_short"]),
        ("pin", "4567", ["pin.unchanged"]),
        ("pin", "91234567", ["pin.contains_phone"]),
    ],
)  # fmt: skip
async def test_a_new_secret_that_breaks_the_policy_is_refused_with_every_reason(
    hkpl: App, client: httpx.AsyncClient, kind: str, new: str, codes: list[str]
) -> None:
    token = await chosen_password(client)
    current = HKPL_PASSWORD if kind == "password" else "4567"
    refused = await change(client, token, kind, current, new)
    assert refused.status_code == 422
    body = refused.json()
    assert body["error"] == "policy_violation"
    assert [v["code"] for v in body["violations"]] == codes
    assert all(set(v) == {"code", "message", "field"} for v in body["violations"])
    assert {v["field"] for v in body["violations"]} == {"new"}
    assert body["message"] == body["violations"][0]["message"]


async def test_policy_messages_follow_accept_language(hkpl: App, client: httpx.AsyncClient) -> None:
    token = await chosen_password(client)
    refused = await change(client, token, "pin", "4567", "12a4", **{"Accept-Language": "zh-Hant"})
    assert refused.json()["violations"] == [
        {"code": "pin.not_digits", "message": "個人密碼只可包含數字。", "field": "new"}
    ]


async def test_a_mismatched_confirmation_is_refused(hkpl: App, client: httpx.AsyncClient) -> None:
    token = await chosen_password(client)
    refused = await change(client, token, "pin", "4567", "2046", confirm="2047")
    assert refused.status_code == 422
    assert refused.json() == {
        "error": "confirmation_mismatch",
        "message": "The two new entries are not the same.",
    }


async def test_every_problem_of_the_new_secret_and_its_confirmation_comes_at_once(
    hkpl: App, client: httpx.AsyncClient
) -> None:
    token = await chosen_password(client)
    refused = await change(client, token, "pin", "4567", "12a4", confirm="12a5")
    assert refused.status_code == 422
    body = refused.json()
    assert body["error"] == "policy_violation"
    assert [(v["field"], v["code"]) for v in body["violations"]] == [
        ("new", "pin.not_digits"),
        ("confirm", "secret.confirmation_mismatch"),
    ]
    assert body["violations"][1]["message"] == "The two new entries are not the same."


async def test_a_wrong_current_secret_counts_in_the_lockout(
    hkpl: App, client: httpx.AsyncClient
) -> None:
    token = await chosen_password(client)
    for _ in range(2):
        wrong = await client.post(
            "/api/v1/sessions", json={"identifier": "HKPL0001", "secret": "Wrong#Pass1"}
        )
        assert wrong.status_code == 401
    for _ in range(3):
        refused = await change(client, token, "password", "Wrong#Pass1", "New#Reader2027")
        assert refused.status_code == 401
        assert refused.json()["error"] == "invalid_credentials"
    # Two failed sign-ins and three failed changes: the sixth attempt is blocked (S3).
    blocked = await change(client, token, "password", HKPL_PASSWORD, "New#Reader2027")
    assert blocked.status_code == 429
    assert blocked.json()["error"] == "too_many_attempts"
    assert blocked.headers["Retry-After"] == str(blocked.json()["retry_after"]) == "60"
    clock_of(hkpl).advance(61)
    changed = await change(client, token, "password", HKPL_PASSWORD, "New#Reader2027")
    assert changed.status_code == 204


async def test_a_credential_the_library_does_not_use_is_404_and_not_an_attempt(
    app: App, client: httpx.AsyncClient
) -> None:
    register(app, "polyu", "21012345A", id_number="Z123456(1)")
    token = str((await sign_in(client, "21012345A", "Z12345"))["token"])
    assert (await change(client, token, "pin", "Z12345", "lib2046x")).status_code == 204
    for _ in range(6):
        refused = await change(client, token, "password", "lib2046x", "Lib#Reader2026")
        assert refused.status_code == 404
        assert refused.json() == {
            "error": "credential_not_used",
            "message": "This library does not use a password.",
        }
    # Six refusals and still no block: none of them was an attempt.
    assert (await sign_in(client, "21012345A", "lib2046x"))["must_change"] is False


@pytest.mark.parametrize(
    ("current", "code"),
    [
        ("Lib#Reader\x00", "secret.control_character"),
        ("Lib#Reader\x1b[2J", "secret.control_character"),
        ("x" * 129, "secret.too_long"),
        ("x" * 600, "secret.too_long"),
        ("", "secret.empty"),
    ],
)
async def test_a_malformed_current_secret_is_invalid_input_and_not_an_attempt(
    hkpl: App, client: httpx.AsyncClient, current: str, code: str
) -> None:
    token = await chosen_password(client)
    for _ in range(6):
        refused = await change(client, token, "password", current, "New#Reader2027")
        assert refused.status_code == 422
        assert refused.json()["error"] == "invalid_input"
        assert refused.json()["violations"][0]["code"] == code
    assert (
        await change(client, token, "password", HKPL_PASSWORD, "New#Reader2027")
    ).status_code == 204


async def test_hkcts_first_change_of_the_default_is_confirmed_by_the_e_mailed_code(
    app: App, client: httpx.AsyncClient
) -> None:
    register(
        app, "hkct", "S2019001", category="staff", staff_number="S2019001",
        registered_on=date(2019, 9, 2), email="staff@example.org",
    )  # fmt: skip
    token = str((await sign_in(client, "S2019001", "S2019001"))["token"])
    body = {"current": "S2019001", "new": "Lib#Reader2026", "confirm": "Lib#Reader2026"}
    asked = await client.put("/api/v1/me/password", headers=bearer(token), json=body)
    assert (asked.status_code, asked.json()["error"]) == (403, "confirmation_code_sent")
    (mail,) = mails(app)
    assert mail["Subject"] == "Your library confirmation code"
    code = re.search(r"is: (\S+)", text_of(mail))
    assert code is not None
    wrong = await client.put(
        "/api/v1/me/password", headers=bearer(token), json={**body, "code": "AAAA2222"}
    )
    assert (wrong.status_code, wrong.json()["error"]) == (403, "confirmation_code_invalid")
    done = await client.put(
        "/api/v1/me/password", headers=bearer(token), json={**body, "code": code.group(1)}
    )
    assert done.status_code == 204
    assert (await client.get("/api/v1/me", headers=bearer(token))).status_code == 200
