"""The API's edge: a bound on request bodies, and headers every answer carries."""

from __future__ import annotations

from starlette.exceptions import HTTPException

from patronauth.api.errors import http_error
from patronauth.api.language import negotiate
from patronauth.presentation.http import ASGIApp, Message, Receive, Scope, Send, adding_headers

MAX_BODY_BYTES = 64 * 1024  # the largest request of the API is a few hundred bytes


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return bytes(value).decode("latin-1")
    return None


class BodyLimit:
    """Refuses a body over `limit` bytes with 413 before it is read to the end, whether
    it announces its length or streams in chunks."""

    def __init__(self, app: ASGIApp, limit: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _header(scope, b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            language = negotiate(_header(scope, b"accept-language"))
            response = http_error(413, language, str(scope.get("method", ""))).response()
            await response(scope, receive, send)
            return
        received = 0

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    # Raised inside the route's body read: the API's handler answers 413.
                    raise HTTPException(413)
            return message

        await self.app(scope, limited, send)


class AnswerHeaders:
    """Answers hold tokens and personal data: never cached; their text follows
    `Accept-Language`."""

    HEADERS = ((b"cache-control", b"no-store"), (b"vary", b"Accept-Language"))

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        await self.app(scope, receive, adding_headers(send, self.HEADERS, keep_present=False))
