"""S3 across channels at the wire: wrong PINs at a SIP2 terminal and wrong secrets in the
app's API add up on one card, and the sixth attempt is refused on either."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from starlette.applications import Starlette

from patronauth.asgi import create
from patronauth.bootstrap import App
from patronauth.presentation.i18n import message
from patronauth.sip2.messages import parse
from patronauth.sip2.server import Sip2Server
from tests.sip2.conftest import PATRON, PIN, Raw, connect, patron_status


def sip2_pin(terminal: Raw, pin: str) -> dict[str, str]:
    reply = terminal.ask(patron_status(pin=pin))
    msg = parse(reply[:-1].decode())
    return {"status": msg.fixed["patron_status"], **dict(msg.fields)}


def api_sign_in(web: Starlette, secret: str) -> int:
    async def post() -> int:
        transport = httpx.ASGITransport(app=web)
        async with httpx.AsyncClient(transport=transport, base_url="http://library.test") as c:
            body = {"identifier": PATRON, "secret": secret}
            return (await c.post("/api/v1/sessions", json=body)).status_code

    return asyncio.run(post())


@pytest.mark.parametrize("first", ["sip2", "api"])
def test_failures_add_up_and_the_sixth_attempt_is_blocked_on_either_channel(
    server: Sip2Server, library: App, first: str
) -> None:
    client = create(library)
    with connect(server) as terminal:
        for channel in (first, "api" if first == "sip2" else "sip2"):
            for _ in range(3 if channel == first else 2):
                if channel == "sip2":
                    wrong = sip2_pin(terminal, "9999")
                    assert (wrong["BL"], wrong["CQ"]) == ("Y", "N")
                else:
                    assert api_sign_in(client, "wrong-secret-1") == 401
        # The sixth attempt, with the right secrets, is refused on both channels.
        blocked = sip2_pin(terminal, PIN)
        assert api_sign_in(client, "4567") == 429
    assert (blocked["BL"], blocked["CQ"]) == ("Y", "N")
    assert blocked["status"][:4] == "YYYY"
    assert blocked["AF"] == message("sip2.blocked", seconds=60, minutes=1)


def test_without_the_web_failures_the_right_pin_still_works(
    server: Sip2Server, library: App
) -> None:
    with connect(server) as terminal:
        for _ in range(3):
            assert sip2_pin(terminal, "9999")["CQ"] == "N"
        assert sip2_pin(terminal, PIN)["CQ"] == "Y"
