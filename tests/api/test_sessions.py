"""POST /api/v1/sessions and DELETE /api/v1/sessions/current (SPEC 4.3, S3-S5, S7)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import httpx
import pytest

from patronauth.asgi import create
from patronauth.bootstrap import App
from patronauth.domain.patrons import PatronStatus
from patronauth.services.lookup import require_patron
from patronauth.services.staff import complete_registration
from tests.api.helpers import HKPL_PASSWORD, bearer, chosen_password, sign_in, temporary_password
from tests.support import STAFF, clear_of_the_minute_edge, clock_of, make_app, register
from tests.support import test_env as deployment_env

pytestmark = pytest.mark.anyio

SESSIONS = "/api/v1/sessions"


async def attempt(client: httpx.AsyncClient, identifier: str, secret: str) -> httpx.Response:
    return await client.post(SESSIONS, json={"identifier": identifier, "secret": secret})


async def test_a_default_password_signs_in_to_the_change_step_only(
    hkpl: App, client: httpx.AsyncClient
) -> None:
    answer = await client.post(SESSIONS, json={"identifier": "HKPL0001", "secret": "4567"})
    assert answer.status_code == 201
    assert answer.headers["Cache-Control"] == "no-store"  # a token is never cached
    opened = answer.json()
    assert set(opened) == {"token", "must_change", "credential", "expires_at"}
    assert opened["must_change"] is True
    assert opened["credential"] == "password"
    # The idle timeout (15 minutes) from the injected clock's 10:00 UTC.
    assert opened["expires_at"] == "2026-11-24T10:15:00Z"


async def test_a_chosen_password_signs_in_fully(hkpl: App, client: httpx.AsyncClient) -> None:
    await chosen_password(client)
    opened = await sign_in(client, "hkpl 0001", HKPL_PASSWORD)
    assert opened["must_change"] is False
    me = await client.get("/api/v1/me", headers=bearer(opened["token"]))
    assert me.status_code == 200
    assert me.json()["card_number"] == "HKPL0001"


async def test_an_unknown_card_and_a_wrong_password_answer_the_same_bytes(
    hkpl: App, client: httpx.AsyncClient
) -> None:
    """S4: nothing in status, headers or body tells whether the card exists."""
    unknown = await attempt(client, "HKPL9999", "Wrong#Pass1")
    wrong = await attempt(client, "HKPL0001", "Wrong#Pass1")
    assert (unknown.status_code, unknown.content) == (wrong.status_code, wrong.content)
    assert unknown.headers == wrong.headers
    assert wrong.status_code == 401
    assert wrong.json() == {
        "error": "invalid_credentials",
        "message": "The card number or the password or PIN is not correct.",
    }
    for language in ("zh-Hant", "zh-HK, en;q=0.5"):
        headers = {"Accept-Language": language}
        bodies = {
            (
                await client.post(
                    SESSIONS, headers=headers, json={"identifier": ident, "secret": "x1"}
                )
            ).content
            for ident in ("HKPL0001", "HKPL9999", "XYZ0001")
        }
        assert len(bodies) == 1
        assert "不正確" in bodies.pop().decode("utf-8")


async def test_the_sixth_attempt_is_blocked_even_with_the_right_password(
    hkpl: App, client: httpx.AsyncClient
) -> None:
    for _ in range(5):
        assert (await attempt(client, "HKPL0001", "Wrong#Pass1")).status_code == 401
    blocked = await attempt(client, "HKPL0001", "4567")
    assert blocked.status_code == 429
    body = blocked.json()
    assert body["error"] == "too_many_attempts"
    assert body["retry_after"] == 60
    assert blocked.headers["Retry-After"] == "60"
    assert "60 seconds" in body["message"]
    # An unknown card blocks the same way (S3): the answer does not tell them apart.
    for _ in range(5):
        await attempt(client, "HKPL9999", "Wrong#Pass1")
    unknown = await attempt(client, "HKPL9999", "4567")
    assert (unknown.status_code, unknown.content) == (429, blocked.content)
    clock_of(hkpl).advance(61)
    assert (await attempt(client, "HKPL0001", "4567")).status_code == 201


async def test_a_throttled_address_gets_429_with_retry_after(
    database_url: str, tmp_path: Path
) -> None:
    env = deployment_env(
        database_url, tmp_path / "var", PATRONAUTH_THROTTLE_PER_SOURCE="3 per minute"
    )
    app = make_app(env)
    try:
        transport = httpx.ASGITransport(app=create(app))
        clear_of_the_minute_edge()
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            answers = [await attempt(client, f"CARD{i}", "secret") for i in range(4)]
    finally:
        app.close()
    assert [a.status_code for a in answers] == [401, 401, 401, 429]
    throttled = answers[-1]
    assert throttled.json()["error"] == "too_many_attempts"
    assert int(throttled.headers["Retry-After"]) == throttled.json()["retry_after"] >= 1
    assert "from here" in throttled.json()["message"]


async def test_an_incomplete_registration_is_refused_with_the_contact_text(
    app: App, client: httpx.AsyncClient
) -> None:
    register(app, "hkct", "S2019001", category="staff", staff_number="S2019001",
             registered_on=date(2019, 9, 2), pending=True)  # fmt: skip
    refused = await client.post(
        SESSIONS,
        headers={"Accept-Language": "zh-Hant"},
        json={"identifier": "S2019001", "secret": "S2019001"},
    )
    assert refused.status_code == 403
    body = refused.json()
    assert body["error"] == "registration_incomplete"
    assert body["contact"] == "請聯絡圖書館職員：電話 2265 6918，電郵 lib@hkct.edu.hk。"
    assert body["contact"] in body["message"]
    # A wrong secret on the same card says nothing about the registration.
    wrong = await attempt(client, "S2019001", "nothing")
    assert wrong.json()["error"] == "invalid_credentials"
    complete_registration(app.ports, "S2019001", staff=STAFF)
    assert (await attempt(client, "S2019001", "S2019001")).status_code == 201


async def test_a_barred_account_is_refused_with_the_contact_text(
    hkpl: App, client: httpx.AsyncClient
) -> None:
    with hkpl.ports.uow() as uow:
        found = require_patron(uow, hkpl.ports.profiles, "HKPL0001")
        uow.patrons.set_status(found.patron.id, PatronStatus.BARRED)
        uow.commit()
    refused = await attempt(client, "HKPL0001", "4567")
    assert refused.status_code == 403
    assert refused.json()["error"] == "account_barred"
    assert "Hong Kong Public Library counter" in refused.json()["contact"]


async def test_a_suspended_pin_is_refused_with_the_contact_text(
    app: App, client: httpx.AsyncClient
) -> None:
    """S3: ten consecutive failures (PolyU's cap) suspend the PIN until a reset."""
    register(app, "polyu", "21012345A", id_number="Z123456(1)")
    for _ in range(2):
        for _ in range(5):
            assert (await attempt(client, "21012345A", "wrong9")).status_code == 401
        clock_of(app).advance(300)
    refused = await attempt(client, "21012345A", "Z12345")
    assert refused.status_code == 403
    assert refused.json()["error"] == "suspended"
    assert refused.json()["contact"]
    assert "PIN" in refused.json()["message"]


async def test_an_expired_temporary_password_is_refused_with_401(
    hkpl: App, client: httpx.AsyncClient
) -> None:
    """R7, S5: a temporary password, taken up but never changed, stops at its expiry."""
    await chosen_password(client)
    reset = await client.post("/api/v1/password-resets", json={"email": "chan@example.org"})
    assert reset.status_code == 202
    temporary = temporary_password(hkpl)
    opened = await sign_in(client, "HKPL0001", temporary)
    assert opened["must_change"] is True
    clock_of(hkpl).advance(25 * 3600)
    refused = await attempt(client, "HKPL0001", temporary)
    assert refused.status_code == 401
    assert refused.json() == {
        "error": "temporary_expired",
        "message": (
            "This temporary online password has been used or has expired. Please ask for a new one."
        ),
    }


async def test_a_must_change_token_reaches_only_the_change_of_its_credential(
    hkpl: App, client: httpx.AsyncClient
) -> None:
    opened = await sign_in(client, "HKPL0001", "4567")
    headers = bearer(opened["token"])
    me = await client.get("/api/v1/me", headers=headers)
    assert me.status_code == 403
    assert me.json() == {
        "error": "must_change",
        "message": "Please choose a new password before going on.",
        "credential": "password",
    }
    pin = await client.put(
        "/api/v1/me/pin",
        headers=headers,
        json={"current": "4567", "new": "2046", "confirm": "2046"},
    )
    assert (pin.status_code, pin.json()["error"]) == (403, "must_change")
    changed = await client.put(
        "/api/v1/me/password",
        headers=headers,
        json={"current": "4567", "new": HKPL_PASSWORD, "confirm": HKPL_PASSWORD},
    )
    assert changed.status_code == 204
    # The app keeps its token, which now reaches everything.
    assert (await client.get("/api/v1/me", headers=headers)).status_code == 200


async def test_a_must_change_token_can_sign_out(hkpl: App, client: httpx.AsyncClient) -> None:
    opened = await sign_in(client, "HKPL0001", "4567")
    headers = bearer(opened["token"])
    assert (await client.delete(f"{SESSIONS}/current", headers=headers)).status_code == 204
    changed = await client.put(
        "/api/v1/me/password",
        headers=headers,
        json={"current": "4567", "new": HKPL_PASSWORD, "confirm": HKPL_PASSWORD},
    )
    assert changed.status_code == 401


async def test_signing_out_ends_the_token(hkpl: App, client: httpx.AsyncClient) -> None:
    token = await chosen_password(client)
    headers = bearer(token)
    signed_out = await client.delete(f"{SESSIONS}/current", headers=headers)
    assert signed_out.status_code == 204
    assert signed_out.content == b""
    after = await client.get("/api/v1/me", headers=headers)
    assert after.status_code == 401
    assert after.json()["error"] == "signed_out"
    assert after.headers["WWW-Authenticate"].startswith("Bearer")
    again = await client.delete(f"{SESSIONS}/current", headers=headers)
    assert again.json()["error"] == "signed_out"


@pytest.mark.parametrize(
    ("headers", "error"),
    [
        ({}, "not_signed_in"),
        ({"Authorization": "Basic dXNlcjpwYXNz"}, "not_signed_in"),
        ({"Authorization": "Bearer"}, "not_signed_in"),
        ({"Authorization": "Bearer not-a-token"}, "invalid_token"),
        ({"Authorization": "Bearer " + "x" * 5000}, "invalid_token"),
    ],
)
async def test_requests_without_a_usable_token_get_401(
    hkpl: App, client: httpx.AsyncClient, headers: dict[str, str], error: str
) -> None:
    for method, path in (("GET", "/api/v1/me"), ("DELETE", f"{SESSIONS}/current")):
        answer = await client.request(method, path, headers=headers)
        assert answer.status_code == 401
        assert answer.json()["error"] == error
        # RFC 6750 3.1: no error code when no token came at all.
        challenge = "Bearer" if error == "not_signed_in" else 'Bearer error="invalid_token"'
        assert answer.headers["WWW-Authenticate"] == challenge


@pytest.mark.parametrize(
    ("language", "never_issued", "signed_out"),
    [
        ("en", "This sign-in was not issued by this service. Please sign in.",
         "You are signed out. Please sign in again."),
        ("zh-Hant", "此登入並非由本服務發出，請登入。", "你已登出，請重新登入。"),
    ],
)  # fmt: skip
async def test_a_token_never_issued_is_invalid_token_and_a_signed_out_one_says_so(
    hkpl: App, client: httpx.AsyncClient, language: str, never_issued: str, signed_out: str
) -> None:
    token = await chosen_password(client)
    value, key_id, mac = token.split(".")
    forged = f"{value[::-1]}.{key_id}.{mac}"  # well-formed, but not ours
    lang = {"Accept-Language": language}
    await client.delete(f"{SESSIONS}/current", headers=bearer(token))
    for sent, error, message in ((forged, "invalid_token", never_issued),
                                 (token, "signed_out", signed_out)):  # fmt: skip
        answer = await client.get("/api/v1/me", headers={**bearer(sent), **lang})
        assert answer.status_code == 401
        assert answer.json() == {"error": error, "message": message}
        assert answer.headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'


async def test_an_idle_token_times_out(hkpl: App, client: httpx.AsyncClient) -> None:
    token = await chosen_password(client)
    clock_of(hkpl).advance(960)
    answer = await client.get("/api/v1/me", headers=bearer(token))
    assert (answer.status_code, answer.json()["error"]) == (401, "session_expired")
    assert answer.json()["message"] == "Your session has timed out. Please sign in again."


async def test_the_pin_is_changed_in_the_app_after_a_password_sign_in(
    hkpl: App, client: httpx.AsyncClient
) -> None:
    await chosen_password(client)
    opened = await sign_in(client, "HKPL0001", HKPL_PASSWORD)
    assert (opened["credential"], opened["must_change"]) == ("password", False)
    changed = await client.put(
        "/api/v1/me/pin",
        headers=bearer(opened["token"]),
        json={"current": "4567", "new": "2046", "confirm": "2046"},
    )
    assert changed.status_code == 204


async def test_the_institution_narrows_the_search(hkpl: App, client: httpx.AsyncClient) -> None:
    opened = await sign_in(client, "HKPL0001", "4567", institution="hkpl")
    assert opened["must_change"] is True
    elsewhere = await client.post(
        SESSIONS, json={"identifier": "HKPL0001", "secret": "4567", "institution": "hkct"}
    )
    assert (elsewhere.status_code, elsewhere.json()["error"]) == (401, "invalid_credentials")
    unknown = await client.post(
        SESSIONS, json={"identifier": "HKPL0001", "secret": "4567", "institution": "nowhere"}
    )
    assert (unknown.status_code, unknown.json()["error"]) == (422, "unknown_institution")
    assert "hkpl" in unknown.json()["message"]


@pytest.mark.parametrize("institution", [None, "hkpl"])
async def test_hkpl_app_refuses_the_pin_in_place_of_the_online_password(
    hkpl: App, client: httpx.AsyncClient, institution: str | None
) -> None:
    """R1: the app signs in with the online password; the PIN is for the terminals."""
    body = {"identifier": "HKPL0001", "secret": "4567", "credential": "pin"}
    if institution:
        body["institution"] = institution
    answer = await client.post(SESSIONS, json=body)
    assert answer.status_code == 422
    refusal = answer.json()
    assert refusal["error"] == "invalid_input"
    assert [v["code"] for v in refusal["violations"]] == ["credential.not_for_channel"]
    assert "token" not in refusal
    named = {"identifier": "HKPL0001", "secret": "4567", "credential": "password"}
    assert (await client.post(SESSIONS, json=named)).json()["must_change"] is True
