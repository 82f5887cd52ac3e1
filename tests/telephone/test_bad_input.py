"""Requests the line refuses, each with a clear code and nothing done or counted: keys
that are not keypad keys or too many, an unknown call, a missing or wrong signature, a
stale VoiceXML signature, a request replayed (during the call and after its end), and
what the logs may show (no PIN, no card number, the caller's number masked)."""

from __future__ import annotations

import logging
from pathlib import Path

import httpx
import pytest

from patronauth.bootstrap import App
from tests.support import clock_of, make_app
from tests.support import test_env as deployment_env
from tests.telephone.callers import (
    PUBLIC,
    Caller,
    TwilioCaller,
    VoiceXmlCaller,
    refused,
    vxml_headers,
)
from tests.telephone.conftest import client_of
from tests.telephone.library import KEYED_CARD, PIN, Library, stocked

pytestmark = pytest.mark.anyio

PLATFORMS = {"twilio": TwilioCaller, "voicexml": VoiceXmlCaller}


@pytest.fixture
def library(edge: App) -> Library:
    return stocked(edge)


def caller_for(platform: str, app: App, client: httpx.AsyncClient, call_id: str) -> Caller:
    VoiceXmlCaller.now = int(clock_of(app).now().timestamp())
    return PLATFORMS[platform](client, "hkpl", call_id)


@pytest.mark.parametrize("platform", PLATFORMS)
@pytest.mark.parametrize(
    ("keys", "code"),
    [
        ("12a4", refused("call.keys_invalid")),
        ("1" * 41, refused("call.keys_invalid")),
        ("１２３", refused("call.keys_invalid")),  # full-width digits
        ("12\x004", refused("call.keys_invalid")),
    ],
)
async def test_keys_that_no_keypad_sends_are_refused_and_the_call_goes_on(
    edge: App, edge_client: httpx.AsyncClient, library: Library, platform: str, keys: str,
    code: bytes,
) -> None:  # fmt: skip
    caller = caller_for(platform, edge, edge_client, "CA-bad-keys")
    await caller.dial()
    await caller.press("3")
    denied = await caller.press(keys)
    assert (denied.status, denied.body) == (400, code)
    # The turn was not used: the same question answered rightly goes on.
    asked = await caller.press(KEYED_CARD)
    assert "Please key in your PIN" in asked.text
    heard = await caller.press(PIN)
    assert "To hear your loans, press 1." in heard.text
    assert [e.outcome for e in library.audit("sign_in")] == ["ok"]


@pytest.mark.parametrize("platform", PLATFORMS)
async def test_a_request_for_a_call_never_started_is_refused(
    edge: App, edge_client: httpx.AsyncClient, library: Library, platform: str
) -> None:
    caller = caller_for(platform, edge, edge_client, "CA-never-started")
    caller.next_url = f"{caller.base()}/input" + ("?turn=made-up" if platform == "twilio" else "")  # type: ignore[attr-defined]
    caller.turn = "made-up"
    denied = await caller.press("3")
    assert (denied.status, denied.body) == (404, refused("call.unknown"))
    assert library.calls() == []


@pytest.mark.parametrize("platform", PLATFORMS)
async def test_a_replayed_pin_is_refused_and_counted_once(
    edge: App, edge_client: httpx.AsyncClient, library: Library, platform: str
) -> None:
    caller = caller_for(platform, edge, edge_client, "CA-replay")
    await caller.dial()
    await caller.press("3")
    await caller.press(KEYED_CARD)
    wrong = await caller.press("0000")
    assert "The card number or PIN is not correct." in wrong.text
    replayed = await caller.replay()
    assert (replayed.status, replayed.body) == (404, refused("call.unknown"))
    assert [e.outcome for e in library.audit("sign_in")] == ["invalid"]
    # The call itself goes on with the token the first answer gave.
    asked = await caller.press(KEYED_CARD)
    assert "Please key in your PIN" in asked.text


@pytest.mark.parametrize("platform", PLATFORMS)
async def test_requests_after_the_end_of_a_call_are_refused(
    edge: App, edge_client: httpx.AsyncClient, library: Library, platform: str
) -> None:
    library.lend("HKPL0001", 1)
    caller = caller_for(platform, edge, edge_client, "CA-ended")
    first = await caller.dial()
    first_request = caller.last
    await caller.press("3")
    await caller.press(KEYED_CARD)
    await caller.press(PIN)
    renew = await caller.press("2")
    renew_request = caller.last
    assert "Items renewed: 1." in renew.text
    bye = await caller.press("9")
    assert bye.ended
    caller.last = renew_request
    replayed = await caller.replay()
    assert (replayed.status, replayed.body) == (404, refused("call.unknown"))
    assert [e.outcome for e in library.audit("renewal")] == ["ok"]  # renewed once
    caller.last = first_request
    again = await caller.replay()
    assert (again.status, again.body) == (409, refused("call.replayed"))
    assert first.status == 200


@pytest.mark.parametrize("platform", PLATFORMS)
@pytest.mark.parametrize("signature", ["", "wrong"])
async def test_a_missing_or_wrong_signature_is_refused(
    edge: App, edge_client: httpx.AsyncClient, library: Library, platform: str, signature: str
) -> None:
    if platform == "twilio":
        caller = TwilioCaller(edge_client, "hkpl", "CA-unsigned")
        answer = await caller.post(
            f"{caller.base()}/voice", {**caller.common(), "From": "+85291234567"}, signature
        )
    else:
        now = int(clock_of(edge).now().timestamp())
        headers = {} if not signature else {
            "X-PatronAuth-Timestamp": str(now), "X-PatronAuth-Signature": "0" * 64,
        }  # fmt: skip
        caller = VoiceXmlCaller(edge_client, "hkpl", "CA-unsigned")
        answer = await caller.post(f"{caller.base()}/start", {"callid": "CA-unsigned"}, headers)
    assert (answer.status_code, answer.content) == (403, refused("call.signature_invalid"))
    assert library.calls() == []


async def test_a_twilio_signature_covers_the_parameters(
    edge_client: httpx.AsyncClient, library: Library
) -> None:
    caller = TwilioCaller(edge_client, "hkpl", "CA-tampered")
    await caller.dial()
    await caller.press("3")
    await caller.press(KEYED_CARD)
    url, params = caller.next_url, {**caller.common(), "Digits": "4567"}
    from twilio.request_validator import RequestValidator

    from tests.telephone.callers import TWILIO_TOKEN

    signed = RequestValidator(TWILIO_TOKEN).compute_signature(url, params)
    answer = await caller.post(url, {**params, "Digits": "1234"}, signed)
    assert (answer.status_code, answer.content) == (403, refused("call.signature_invalid"))
    assert library.audit("sign_in") == []


async def test_a_stale_voicexml_signature_is_refused(
    edge: App, edge_client: httpx.AsyncClient, library: Library
) -> None:
    caller = caller_for("voicexml", edge, edge_client, "CA-stale")
    body = b"callid=CA-stale&caller=%2B85291234567"
    target = "/telephone/voicexml/hkpl/start"
    stale = vxml_headers("POST", target, body, VoiceXmlCaller.now - 301)
    answer = await edge_client.post(
        target, content=body,
        headers={**stale, "Content-Type": "application/x-www-form-urlencoded"},
    )  # fmt: skip
    assert (answer.status_code, answer.content) == (403, refused("call.signature_stale"))
    assert caller.call_id == "CA-stale"
    assert library.calls() == []


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        (b"CallSid=CA1&CallSid=CA2&From=1", 400, refused("call.request_invalid")),
        (b"CallSid=\xff\xfe&From=1", 400, refused("call.request_invalid")),
        (b"CallSid=" + b"A" * 9000, 413, refused("call.request_too_large")),
        (b"CallSid=CA'%3B--&From=1", 400, refused("call.id_invalid")),
    ],
)
async def test_malformed_requests_are_refused(
    edge_client: httpx.AsyncClient, library: Library, body: bytes, status: int, code: bytes
) -> None:
    from twilio.request_validator import RequestValidator

    from tests.telephone.callers import TWILIO_TOKEN

    url = f"{PUBLIC}/telephone/twilio/hkpl/voice"
    try:
        from urllib.parse import parse_qsl

        params = dict(parse_qsl(body.decode("utf-8")))
    except UnicodeDecodeError:
        params = {}
    signature = RequestValidator(TWILIO_TOKEN).compute_signature(url, params)
    answer = await edge_client.post(
        "/telephone/twilio/hkpl/voice", content=body,
        headers={"X-Twilio-Signature": signature,
                 "Content-Type": "application/x-www-form-urlencoded"},
    )  # fmt: skip
    assert (answer.status_code, answer.content) == (status, code)
    assert library.calls() == []


async def test_an_unknown_library_is_not_found(
    edge_client: httpx.AsyncClient, library: Library
) -> None:
    caller = TwilioCaller(edge_client, "nosuch", "CA-nowhere")
    heard = await caller.dial()
    assert (heard.status, heard.body) == (404, refused("call.institution_unknown"))


async def test_a_platform_without_its_secret_is_not_served(sqlite_url: str, tmp_path: Path) -> None:
    app = make_app(deployment_env(sqlite_url, tmp_path / "var"))
    try:
        async with client_of(app) as client:
            for path in ("/telephone/twilio/hkpl/voice", "/telephone/voicexml/hkpl/start"):
                answer = await client.post(path, content=b"CallSid=CA1")
                assert answer.status_code == 404
                assert answer.content == refused("telephone.platform_not_configured")
    finally:
        app.close()


STAMPED = {"created", "msecs", "relativeCreated", "thread", "process"}


@pytest.mark.parametrize("platform", PLATFORMS)
async def test_logs_hold_no_pin_no_card_number_and_only_a_masked_caller(
    edge: App, edge_client: httpx.AsyncClient, library: Library, platform: str,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    caplog.set_level(logging.DEBUG)
    caller = caller_for(platform, edge, edge_client, "CA-logged")
    await caller.dial("+852 9876 5432")
    await caller.press("3")
    await caller.press(KEYED_CARD)
    await caller.press("7391")  # a wrong PIN
    await caller.press(KEYED_CARD)
    await caller.press(PIN)
    await caller.press("9")
    # The service's own log records (the test client logs the URLs it calls), every
    # field but the times and ids the logging module stamps on each (their digits may
    # hold a PIN by chance: relativeCreated 263067.4567...).
    logged = [
        " ".join([r.getMessage(), *(str(v) for k, v in vars(r).items() if k not in STAMPED)])
        for r in caplog.records
        if not r.name.startswith("httpx")
    ]
    assert any("call.start" in line for line in logged)
    assert any("telephone:*********32" in line for line in logged)  # the caller, masked
    for line in logged:
        for secret in ("7391", PIN, "HKPL0001", "hkpl0001", KEYED_CARD, "98765432", "9876 5432"):
            assert secret not in line, line
    sign_ins = library.audit("sign_in")
    assert {e.source for e in sign_ins} == {"telephone:*********32"}
    assert all("4567" not in str(e) and "7391" not in str(e) for e in sign_ins)


@pytest.mark.parametrize("platform", PLATFORMS)
async def test_an_idle_call_has_ended_and_a_call_answers_only_its_own_library(
    edge: App, edge_client: httpx.AsyncClient, library: Library, platform: str
) -> None:
    caller = caller_for(platform, edge, edge_client, "CA-idle")
    await caller.dial()
    await caller.press("3")
    # The same call id and token, at another library's address: not this call.
    moved = caller.next_url.replace("/hkpl/", "/polyu/")
    url, params = (
        caller.next_url,
        caller._input("keys", KEYED_CARD)
        if platform == "voicexml"
        else {**caller.common(), "Digits": KEYED_CARD},
    )  # type: ignore[attr-defined]
    answer = await caller.post(moved, params)  # type: ignore[attr-defined]
    assert (answer.status_code, answer.content) == (404, refused("call.unknown"))
    caller.next_url = url
    asked = await caller.press(KEYED_CARD)  # the turn was not used up
    assert "Please key in your PIN" in asked.text
    clock_of(edge).advance(16 * 60)  # no request for 16 minutes
    VoiceXmlCaller.now = int(clock_of(edge).now().timestamp())
    late = await caller.press(PIN)
    assert (late.status, late.body) == (404, refused("call.unknown"))
    assert library.calls() == [("CA-idle", "", "")]


@pytest.mark.parametrize("platform", PLATFORMS)
async def test_a_database_that_does_not_answer_is_503_for_the_platform(
    tmp_path: Path, platform: str
) -> None:
    from tests.servers import free_port
    from tests.telephone.conftest import line_env

    unreachable = f"postgresql://postgres@127.0.0.1:{free_port()}/patronauth"
    app = make_app(line_env(unreachable, tmp_path / "var"))
    try:
        async with client_of(app) as client:
            caller = caller_for(platform, app, client, "CA-db-down")
            heard = await caller.dial()
    finally:
        app.close()
    assert (heard.status, heard.body) == (503, refused("service.unavailable"))
