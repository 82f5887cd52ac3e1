"""The HTTP edge the pages and the API share: headers added to every answer."""

from __future__ import annotations

import asyncio

from patronauth.presentation.http import (
    SECURITY_HEADERS,
    ASGIApp,
    Message,
    Receive,
    Scope,
    SecurityHeaders,
    Send,
    adding_headers,
)


def _answer(headers: list[tuple[bytes, bytes]]) -> ASGIApp:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": list(headers)})
        await send({"type": "http.response.body", "body": b"ok"})

    return app


def _run(app: ASGIApp, scope_type: str = "http") -> list[Message]:
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b""}

    async def send(message: Message) -> None:
        sent.append(message)

    asyncio.run(app({"type": scope_type}, receive, send))
    return sent


def test_security_headers_are_added_unless_the_answer_set_its_own() -> None:
    own = (b"X-Frame-Options", b"SAMEORIGIN")
    sent = _run(SecurityHeaders(_answer([own]), hsts=True))
    headers = sent[0]["headers"]
    assert headers[0] == own
    names = [n for n, _ in headers]
    assert b"x-frame-options" not in names  # the answer's own, in any case, wins
    assert (b"x-content-type-options", b"nosniff") in headers
    assert (b"strict-transport-security", b"max-age=31536000; includeSubDomains") in headers
    assert len(headers) == len(SECURITY_HEADERS) + 1  # every other one, once, and HSTS
    assert sent[1] == {"type": "http.response.body", "body": b"ok"}


def test_no_hsts_without_it() -> None:
    headers = _run(SecurityHeaders(_answer([]), hsts=False))[0]["headers"]
    assert headers == list(SECURITY_HEADERS)


def test_other_scopes_pass_untouched() -> None:
    sent = _run(SecurityHeaders(_answer([]), hsts=True), scope_type="websocket")
    assert sent[0]["headers"] == []


def test_adding_headers_appends_even_when_present_unless_asked_to_keep() -> None:
    extra = ((b"cache-control", b"no-store"), (b"vary", b"Accept-Language"))
    for keep, expected in (
        (False, [(b"Vary", b"Cookie"), *extra]),
        (True, [(b"Vary", b"Cookie"), (b"cache-control", b"no-store")]),
    ):
        sent: list[Message] = []

        async def send(message: Message, sent: list[Message] = sent) -> None:
            sent.append(message)

        wrapped = adding_headers(send, extra, keep_present=keep)
        start: Message = {"type": "http.response.start", "headers": [(b"Vary", b"Cookie")]}
        body: Message = {"type": "http.response.body", "body": b""}
        asyncio.run(wrapped(start))
        asyncio.run(wrapped(body))
        assert sent[0]["headers"] == expected
        assert sent[1] == {"type": "http.response.body", "body": b""}
