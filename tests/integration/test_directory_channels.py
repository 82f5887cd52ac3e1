"""R20 on every channel: the JSON API, the web pages and a SIP2 terminal sign HKU
students and staff in through the real directory, and say "sign-on unavailable"
(503 with Retry-After, the busy page, SIP2 96) while it is down."""

from __future__ import annotations

import socket

import httpx
import pytest

from patronauth.asgi import create
from patronauth.bootstrap import App
from patronauth.domain.terminals import TerminalOptions
from patronauth.services.terminals import add_terminal
from patronauth.sip2.messages import BLANK_DATE, Message, encode
from tests.ldap_server import PEOPLE_ENTRIES, PrivateSlapd
from tests.sip2.conftest import login_frame, running
from tests.support import STAFF
from tests.web.conftest import Browser

JCHAN_PIN = PEOPLE_ENTRIES["jchan"][2]
NEWBIE_PIN = PEOPLE_ENTRIES["newbie"][2]
ITS = "https://its.example.org/portal-pin"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _api(app: App) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=create(app)), base_url="http://t")


# --- the JSON API -------------------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize("identifier", ["jchan", "2000001234", "mlee"])
async def test_the_app_signs_in_through_the_directory(hku: App, identifier: str) -> None:
    pin = JCHAN_PIN if identifier != "mlee" else PEOPLE_ENTRIES["mlee"][2]
    async with _api(hku) as api:
        signed = await api.post(
            "/api/v1/sessions", json={"identifier": identifier, "secret": pin, "institution": "hku"}
        )
        assert signed.status_code == 201, signed.text
        assert signed.json()["must_change"] is False
        token = signed.json()["token"]
        me = await api.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
        assert me.status_code == 200
        assert me.json()["category"] in {"student", "staff"}


@pytest.mark.anyio
async def test_the_app_wrong_pin_and_unknown_uid_give_the_same_bytes(hku: App) -> None:
    async with _api(hku) as api:
        answers = [
            await api.post("/api/v1/sessions", json={"identifier": who, "secret": "Wrong-PIN-12"})
            for who in ("jchan", "nobody", "2000001234")
        ]
    assert {a.status_code for a in answers} == {401}
    assert answers[0].json()["error"] == "invalid_credentials"
    assert answers[0].content == answers[1].content == answers[2].content


@pytest.mark.anyio
async def test_the_app_a_uid_without_a_record_is_told_to_wait(hku: App) -> None:
    async with _api(hku) as api:
        answer = await api.post(
            "/api/v1/sessions",
            json={"identifier": "newbie", "secret": NEWBIE_PIN},
            headers={"Accept-Language": "zh-Hant"},
        )
    assert answer.status_code == 403
    body = answer.json()
    assert body["error"] == "library_account_not_ready"
    assert "1 至 2 日" in body["message"]
    assert set(body) == {"error", "message"}  # nothing else


@pytest.mark.anyio
async def test_the_app_directory_down_is_503_with_retry_after(
    hku: App, slapd: PrivateSlapd
) -> None:
    slapd.kill()
    async with _api(hku) as api:
        for _ in range(7):
            answer = await api.post(
                "/api/v1/sessions", json={"identifier": "jchan", "secret": JCHAN_PIN}
            )
            assert answer.status_code == 503
            assert answer.json()["error"] == "sign_on_unavailable"
            assert int(answer.headers["Retry-After"]) > 0
        slapd.start()
        # Seven refusals counted nothing: the right PIN signs in at once.
        answer = await api.post(
            "/api/v1/sessions", json={"identifier": "jchan", "secret": JCHAN_PIN}
        )
    assert answer.status_code == 201


@pytest.mark.anyio
async def test_the_app_pin_change_is_refused_with_the_its_link(hku: App) -> None:
    async with _api(hku) as api:
        signed = await api.post(
            "/api/v1/sessions", json={"identifier": "jchan", "secret": JCHAN_PIN}
        )
        token = signed.json()["token"]
        change = await api.put(
            "/api/v1/me/pin",
            json={"current": JCHAN_PIN, "new": "New-Portal-PIN-1", "confirm": "New-Portal-PIN-1"},
            headers={"Authorization": f"Bearer {token}"},
        )
    assert change.status_code == 403
    assert change.json()["error"] == "directory_managed"
    assert ITS in change.json()["message"]


# --- the web pages ------------------------------------------------------------------


@pytest.mark.anyio
async def test_the_web_signs_in_by_uid_and_shows_where_the_pin_is_changed(hku: App) -> None:
    browser = Browser(hku)
    try:
        page = await browser.get("/hku/sign-in")
        assert 'id="directory-sign-in"' in page.text
        signed = await browser.sign_in("hku", "jchan", JCHAN_PIN)
        assert signed.status_code == 303
        assert signed.headers["location"].endswith("/hku/account")
        account = await browser.follow(signed)
        assert account.status_code == 200
        change = await browser.get("/hku/change-pin")
        assert change.status_code == 200
        assert 'id="directory-managed"' in change.text
        assert ITS in change.text
        assert 'name="new"' not in change.text  # no form: nothing can be changed here
        posted = await browser.post(
            "/hku/change-pin",
            {"current": JCHAN_PIN, "new": "New-Portal-PIN-1", "confirm": "New-Portal-PIN-1"},
        )
        assert posted.status_code == 403
        assert 'id="directory-managed"' in posted.text
    finally:
        await browser.aclose()


@pytest.mark.anyio
async def test_the_web_refusals_and_the_busy_page(hku: App, slapd: PrivateSlapd) -> None:
    browser = Browser(hku)
    try:
        wrong = await browser.sign_in("hku", "jchan", "Wrong-PIN-12")
        unknown = await browser.sign_in("hku", "nobody", "Wrong-PIN-12")
        assert wrong.status_code == unknown.status_code == 422
        waiting = await browser.sign_in("hku", "newbie", NEWBIE_PIN)
        assert waiting.status_code == 403
        assert "1-2 days after you get your student or staff card" in waiting.text
        slapd.kill()
        busy = await browser.sign_in("hku", "2000001234", JCHAN_PIN)
        assert busy.status_code == 503
        assert int(busy.headers["Retry-After"]) > 0
        assert "campus directory is not answering" in busy.text
    finally:
        await browser.aclose()


# --- SIP2 ---------------------------------------------------------------------------


def _patron_status(identifier: str, pin: str) -> bytes:
    fields = (("AO", "hku"), ("AA", identifier), ("AC", ""), ("AD", pin))
    return encode(Message("23", {"language": "001", "date": BLANK_DATE}, fields), sequence="1")


def _ask(sock: socket.socket, frame: bytes) -> bytes:
    sock.sendall(frame)
    reply = b""
    while not reply.endswith(b"\r"):
        chunk = sock.recv(65536)
        assert chunk, "the server closed the connection"
        reply += chunk
    return reply


def test_a_kiosk_checks_the_portal_pin_by_card_and_by_uid(hku: App, slapd: PrivateSlapd) -> None:
    add_terminal(
        hku.ports, login="kiosk1", institution="hku", password="kiosk-password-1",
        location="Main Library", options=TerminalOptions(), staff=STAFF,
    )  # fmt: skip
    with running(hku, idle_seconds=30.0) as server:
        sock = socket.create_connection(("127.0.0.1", server.port), timeout=20)
        try:
            assert _ask(sock, login_frame("kiosk1", "kiosk-password-1")).startswith(b"941")
            for typed in ("2000001234", "jchan"):
                reply = _ask(sock, _patron_status(typed, JCHAN_PIN))
                assert reply.startswith(b"24"), reply
                assert b"|BLY|" in reply, reply
                assert b"|CQY|" in reply, reply
            wrong = _ask(sock, _patron_status("2000001234", "Wrong-PIN-12"))
            assert b"|CQN|" in wrong
            waiting = _ask(sock, _patron_status("2000009999", NEWBIE_PIN))
            assert b"|CQY|" not in waiting
            assert b"1-2 days after your card is issued" in waiting
            slapd.kill()
            down = _ask(sock, _patron_status("2000001234", JCHAN_PIN))
            assert down.startswith(b"96"), down
        finally:
            sock.close()
