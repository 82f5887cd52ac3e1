"""SPEC 7, bad input on every operation: a clear error in the error shape, never a 5xx,
and nothing of it stored."""

from __future__ import annotations

import json
import unicodedata
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from patronauth.adapters.storage.tables import metadata
from patronauth.api.schemas import ErrorCode
from patronauth.bootstrap import App
from tests.api.helpers import HKPL_PASSWORD, bearer, chosen_password, sign_in

pytestmark = pytest.mark.anyio

TEN_MB = 10 * 1024 * 1024

# operation -> (method, path, a valid body, the statuses bad input may get)
OPERATIONS: dict[str, tuple[str, str, dict[str, Any], set[int]]] = {
    "sign_in": (
        "POST",
        "/api/v1/sessions",
        {"identifier": "HKPL0001", "secret": HKPL_PASSWORD, "institution": "hkpl"},
        {400, 401, 403, 413, 422, 429},
    ),
    "change_password": (
        "PUT",
        "/api/v1/me/password",
        {"current": HKPL_PASSWORD, "new": "New#Reader2027", "confirm": "New#Reader2027"},
        {400, 401, 403, 413, 422, 429},
    ),
    "change_pin": (
        "PUT",
        "/api/v1/me/pin",
        {"current": "4567", "new": "2046", "confirm": "2046"},
        {400, 401, 403, 413, 422, 429},
    ),
    "reset": (
        "POST",
        "/api/v1/password-resets",
        # An address nobody has: a legitimate variant (a field left out) must not match.
        {"identifier": "HKPL0001", "email": "nobody@example.org", "institution": "hkpl"},
        {202, 400, 413, 422},
    ),
    "policy_check": (
        "POST",
        "/api/v1/policy-checks",
        {"institution": "hkpl", "credential": "password", "secret": "x", "category": "reader"},
        {200, 400, 413, 422},
    ),
    # No title 1 in this catalogue: even the valid body reserves nothing.
    "place_hold": (
        "POST",
        "/api/v1/me/holds",
        {"title_id": 1, "pickup": "CEN"},
        {400, 404, 409, 413, 422},
    ),
    # HKPL takes no requests: the fields are judged before the library is asked.
    "new_request": (
        "POST",
        "/api/v1/me/requests",
        {"kind": "recommendation", "title": "Dream", "author": "Cao", "note": "x"},
        {400, 404, 413, 422},
    ),
}

SQL = ["' OR '1'='1' --", "Robert'); DROP TABLE patrons;--", "1; SELECT pg_sleep(10)"]
HTML = ["<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "&lt;b&gt;&#0;"]
CONTROL = ["", "\x00", "HKPL\x000001", "\x1b[2J\x1b[31mred", "a\u202eb", "line\nbreak", "\ud800"]
WRONG_TYPES: list[Any] = [123, 1.5, True, None, [], {}, ["HKPL0001"], {"$ne": ""}]
PAYLOADS: list[Any] = [*SQL, *HTML, *CONTROL, *WRONG_TYPES, "x" * 5000]
# What must never reach the database in any form.
MARKERS = ["DROP TABLE", "pg_sleep", "<script", "onerror", "&lt;", "\x00", "\x1b", "\u202e"]

RAW_BODIES: list[tuple[bytes, str, int]] = [
    (b"", "application/json", 422),
    (b"   ", "application/json", 400),
    (b'{"identifier": ', "application/json", 400),
    (b'{"identifier": "\xc3\x28", "secret": "\xff"}', "application/json", 400),
    (b"\xff\xfe\x00\x00", "application/json", 400),
    (b"[" * 50_000, "application/json", 400),
    (b'{"identifier": NaN}', "application/json", 422),
    (b"null", "application/json", 422),
    (b"[]", "application/json", 422),
    (b'"HKPL0001"', "application/json", 422),
    (b"identifier=HKPL0001&secret=x", "application/x-www-form-urlencoded", 422),
    (b'{"identifier": "HKPL0001"}', "text/plain", 422),
]


@pytest.fixture
async def token(hkpl: App, client: httpx.AsyncClient) -> str:
    return await chosen_password(client)


def stored(app: App) -> dict[str, list[str]]:
    """Every row of every table as text."""
    with app.engine.connect() as conn:
        return {
            table.name: sorted(repr(tuple(row)) for row in conn.execute(select(table)))
            for table in metadata.sorted_tables
        }


# Attempts are recorded on purpose (audit, counters, a credential's failure count);
# everything else must stay exactly as it was.
_ATTEMPT_TABLES = {"audit_events", "attempt_counters", "credentials"}


def assert_nothing_stored(app: App, before: dict[str, list[str]]) -> None:
    after = stored(app)
    for table, rows in before.items():
        if table not in _ATTEMPT_TABLES:
            assert after[table] == rows, table
    text = "\n".join("\n".join(rows) for rows in after.values())
    for marker in MARKERS:
        assert marker not in text
        assert ascii(marker)[1:-1] not in text


def assert_error_shape(answer: httpx.Response, allowed: set[int]) -> None:
    assert answer.status_code in allowed, answer.text
    assert answer.status_code < 500
    if answer.status_code >= 400:
        assert answer.headers["content-type"] == "application/json"
        body = answer.json()
        assert body["error"] in {code.value for code in ErrorCode}
        assert isinstance(body["message"], str)
        assert body["message"]
        for violation in body.get("violations", []):
            assert violation["code"]
            assert violation["message"]


@pytest.mark.parametrize("operation", OPERATIONS)
async def test_every_field_refuses_bad_values_clearly(
    hkpl: App, client: httpx.AsyncClient, token: str, operation: str
) -> None:
    method, path, valid, allowed = OPERATIONS[operation]
    before = stored(hkpl)
    for field in valid:
        for payload in PAYLOADS:
            body = {**valid, field: payload}
            answer = await client.request(
                method,
                path,
                headers={**bearer(token), "Content-Type": "application/json"},
                # ensure_ascii keeps a lone surrogate sendable (as a JSON escape).
                content=json.dumps(body).encode("ascii"),
            )
            assert_error_shape(answer, allowed)
            if operation.startswith("change"):
                assert answer.status_code != 204
        extra = await client.request(method, path, headers=bearer(token), json={**valid, "x": 1})
        assert (extra.status_code, extra.json()["error"]) == (422, "invalid_input")
    assert_nothing_stored(hkpl, before)


@pytest.mark.parametrize("operation", OPERATIONS)
async def test_malformed_bodies_are_refused_clearly(
    edge: App, edge_client: httpx.AsyncClient, operation: str
) -> None:
    client = edge_client
    token = await chosen_password(client)
    method, path, _, allowed = OPERATIONS[operation]
    before = stored(edge)
    for content, content_type, status in RAW_BODIES:
        answer = await client.request(
            method, path, headers={**bearer(token), "Content-Type": content_type}, content=content
        )
        assert_error_shape(answer, allowed)
        assert answer.status_code == status, (content[:40], answer.text)
    assert_nothing_stored(edge, before)


async def _chunks(total: int) -> AsyncIterator[bytes]:
    chunk = b'{"identifier": "' + b"A" * 65_536
    sent = 0
    while sent < total:
        yield chunk
        sent += len(chunk)


ADDRESSES = {
    **{name: (method, path) for name, (method, path, _, _) in OPERATIONS.items()},
    "me": ("GET", "/api/v1/me"),
    "sign_out": ("DELETE", "/api/v1/sessions/current"),
    "loans": ("GET", "/api/v1/me/loans"),
    "renewal": ("POST", "/api/v1/me/loans/1/renewal"),
    "holds": ("GET", "/api/v1/me/holds"),
    "cancel_hold": ("DELETE", "/api/v1/me/holds/1"),
    "fines": ("GET", "/api/v1/me/fines"),
    "titles": ("GET", "/api/v1/titles?q=west"),
    "requests": ("GET", "/api/v1/me/requests"),
}


@pytest.mark.parametrize("operation", ADDRESSES)
async def test_ten_megabytes_are_refused_before_they_are_read(
    edge_client: httpx.AsyncClient, operation: str
) -> None:
    client = edge_client
    token = await chosen_password(client)
    method, path = ADDRESSES[operation]
    headers = {**bearer(token), "Content-Type": "application/json"}
    declared = await client.request(method, path, headers=headers, content=b"{" * TEN_MB)
    assert declared.status_code == 413
    assert declared.json() == {"error": "payload_too_large", "message": "The request is too large."}
    if operation in OPERATIONS:
        streamed = await client.request(method, path, headers=headers, content=_chunks(TEN_MB))
        assert streamed.status_code == 413
        assert streamed.json()["error"] == "payload_too_large"
    # The token still works: nothing was done.
    assert (await client.get("/api/v1/me", headers=bearer(token))).status_code == 200


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"identifier": "HKPL\x000001", "secret": "x"}, "identifier.invalid_characters"),
        ({"identifier": "' OR '1'='1' --", "secret": "x"}, "identifier.invalid_characters"),
        (
            {"identifier": "<script>alert(1)</script>", "secret": "x"},
            "identifier.invalid_characters",
        ),
        ({"identifier": "HKPL0001", "secret": "Lib#Reader\x00"}, "secret.control_character"),
        ({"identifier": "HKPL0001", "secret": "\u202eLib#Reader2026"}, "secret.control_character"),
        ({"identifier": "HKPL0001", "secret": "\ud800"}, "secret.not_utf8"),
        ({"identifier": "HKPL\udfff", "secret": "x"}, "argument.not_utf8"),
        ({"identifier": "HKPL0001", "secret": "x" * 129}, "secret.too_long"),
        ({"identifier": "HKPL0001", "secret": ""}, "secret.empty"),
        ({"identifier": "", "secret": "x"}, "identifier.empty"),
        ({"identifier": "HKPL0001"}, "secret.empty"),
        ({"identifier": 1234, "secret": "x"}, "field.invalid"),
        (
            {"identifier": "HKPL0001", "secret": "x", "credential": "token"},
            "credential.kind_required",
        ),
        ({"identifier": "HKPL0001", "secret": "x", "institution": "<b>"}, "institution.unknown"),
        ({"identifier": "HKPL0001", "secret": "x", "<b>": 1}, "field.unknown"),
    ],
)
async def test_a_bad_sign_in_says_what_is_wrong_and_is_no_attempt(
    hkpl: App, client: httpx.AsyncClient, body: dict[str, Any], code: str
) -> None:
    before = stored(hkpl)
    for language in ("en", "zh-Hant"):
        answer = await client.post(
            "/api/v1/sessions",
            headers={"Content-Type": "application/json", "Accept-Language": language},
            content=json.dumps(body).encode("ascii"),
        )
        assert answer.status_code == 422
        assert answer.json()["violations"][0]["code"] == code
        assert "<b>" not in answer.text
    after = stored(hkpl)
    assert after == before  # not even an audit record: no attempt was made


async def test_mixed_normalisation_forms_are_one_secret_and_one_card(
    hkpl: App, client: httpx.AsyncClient
) -> None:
    """S2: secrets are compared in NFC; identifiers in NFKC without spaces or case."""
    decomposed = unicodedata.normalize("NFD", "Café#Reader2026")
    assert decomposed != "Café#Reader2026"
    opened = await sign_in(client, "HKPL0001", "4567")
    changed = await client.put(
        "/api/v1/me/password",
        headers=bearer(opened["token"]),
        json={"current": "4567", "new": decomposed, "confirm": "Café#Reader2026"},
    )
    assert changed.status_code == 204
    for identifier, secret in [
        ("HKPL0001", "Café#Reader2026"),
        ("ＨＫＰＬ０００１", decomposed),
        (" hkpl 0001 ", "Cafe\u0301#Reader2026"),
    ]:
        assert (await sign_in(client, identifier, secret))["must_change"] is False


@pytest.mark.parametrize(
    ("method", "path", "status", "error"),
    [
        ("GET", "/api/v1/nothing-here", 404, "not_found"),
        ("GET", "/api/v1/", 404, "not_found"),
        ("GET", "/api/v1/me/", 404, "not_found"),
        ("PUT", "/api/v1/me/token", 404, "not_found"),
        ("GET", "/api/v1/me/loans/1", 404, "not_found"),
        ("GET", "/api/v1/me/fines/", 404, "not_found"),
        ("GET", "/api/v1/me/holds/1", 405, "method_not_allowed"),
        ("PUT", "/api/v1/me/loans/1/renewal", 405, "method_not_allowed"),
        ("POST", "/api/v1/me", 405, "method_not_allowed"),
        ("GET", "/api/v1/sessions", 405, "method_not_allowed"),
        ("PATCH", "/api/v1/me/password", 405, "method_not_allowed"),
        ("GET", "/api/v1/password-resets", 405, "method_not_allowed"),
    ],
)
async def test_unknown_addresses_and_methods_answer_in_the_error_shape(
    edge_client: httpx.AsyncClient, method: str, path: str, status: int, error: str
) -> None:
    client = edge_client
    answer = await client.request(method, path)
    assert answer.status_code == status
    assert answer.json()["error"] == error
    if status == 405:
        assert answer.headers["Allow"]
    zh = await client.request(method, path, headers={"Accept-Language": "zh-Hant"})
    assert zh.json()["message"] != answer.json()["message"]


@pytest.mark.parametrize(
    "authorization",
    ["Bearer ' OR 1=1 --", "Bearer <script>", "Bearer \t", "bearer x y z", "Bearer é".encode()],
)
async def test_garbage_tokens_are_401(
    edge_client: httpx.AsyncClient, authorization: str | bytes
) -> None:
    client = edge_client
    answer = await client.get("/api/v1/me", headers={"Authorization": authorization})
    assert answer.status_code == 401
    assert answer.json()["error"] in {"not_signed_in", "invalid_token"}


@pytest.mark.parametrize(
    "accept_language", ["", "*", "xx", "zh;q=abc", "en;q=0, zh;q=0", "é" * 600, "zh-Hant;q=2"]
)
async def test_odd_accept_language_headers_fall_back_to_english(
    edge_client: httpx.AsyncClient, accept_language: str
) -> None:
    client = edge_client
    answer = await client.get(
        "/api/v1/me", headers={"Accept-Language": accept_language.encode("utf-8")}
    )
    assert answer.json()["message"] == "Please sign in first."
