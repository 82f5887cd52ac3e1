"""POST /api/v1/policy-checks: live hints while typing, `{ok, violations}` exactly."""

from __future__ import annotations

import httpx
import pytest

from patronauth.bootstrap import App

pytestmark = pytest.mark.anyio

CHECKS = "/api/v1/policy-checks"


@pytest.mark.parametrize(
    ("institution", "credential", "secret", "codes"),
    [
        ("hkpl", "password", "Lib#Reader2026", []),
        ("hkpl", "password", "Password1", ["password.missing_special"]),
        ("hkpl", "password", "", ["password.empty"]),
        ("hkpl", "password", "Lib#Re\x00ader2026", ["password.control_character"]),
        ("hkpl", "pin", "12a4", ["pin.not_digits"]),
        ("hkpl", "pin", "1234", ["pin.common"]),
        ("polyu", "pin", "abab12", ["pin.trivial.repeated_group"]),
        ("polyu", "pin", "aaa123", ["pin.trivial.repeated_char"]),
        ("polyu", "pin", "abc12345x", ["pin.too_long"]),
        ("hku", "pin", "onlyletterslong", ["pin.too_few_categories"]),
        ("hkct", "password", "correct horse battery", []),
        ("hkct", "password", "x" * 129, ["password.too_long"]),
    ],
)
async def test_the_answer_lists_every_broken_rule(
    app: App,
    client: httpx.AsyncClient,
    institution: str,
    credential: str,
    secret: str,
    codes: list[str],
) -> None:
    answer = await client.post(
        CHECKS, json={"institution": institution, "credential": credential, "secret": secret}
    )
    assert answer.status_code == 200
    body = answer.json()
    assert set(body) == {"ok", "violations"}
    assert body["ok"] is (not codes)
    assert [v["code"] for v in body["violations"]] == codes
    assert all(set(v) == {"code", "message"} and v["message"] for v in body["violations"])


async def test_the_hints_speak_traditional_chinese(app: App, client: httpx.AsyncClient) -> None:
    answer = await client.post(
        CHECKS,
        headers={"Accept-Language": "zh-Hant"},
        json={"institution": "polyu", "credential": "pin", "secret": "abab12"},
    )
    assert answer.json() == {
        "ok": False,
        "violations": [
            {
                "code": "pin.trivial.repeated_group",
                "message": "個人密碼重複了一組 2 至 4 個字元（例如 abab 或 abcabc）。",
            }
        ],
    }


async def test_a_category_can_override_the_policy(app: App, client: httpx.AsyncClient) -> None:
    answer = await client.post(
        CHECKS,
        json={
            "institution": "hku",
            "credential": "pin",
            "secret": "Library2046!x",
            "category": "julac",
        },
    )
    assert answer.json() == {"ok": True, "violations": []}


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"institution": "nowhere", "credential": "pin", "secret": "1"}, "unknown_institution"),
        ({"institution": "polyu", "credential": "password", "secret": "1"}, "credential_not_used"),
        ({"institution": "hku", "credential": "pin", "secret": "1", "category": "dean"},
         "unknown_category"),
        ({"institution": "hku", "credential": "token", "secret": "1"}, "invalid_input"),
        ({"institution": "hku", "credential": "pin"}, "invalid_input"),
    ],
)  # fmt: skip
async def test_what_cannot_be_checked_is_422(
    app: App, client: httpx.AsyncClient, body: dict[str, str], error: str
) -> None:
    answer = await client.post(CHECKS, json=body)
    assert answer.status_code == 422
    assert answer.json()["error"] == error
