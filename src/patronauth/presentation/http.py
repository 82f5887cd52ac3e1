"""What the web pages and the JSON API share at the HTTP edge."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
    (
        b"content-security-policy",
        b"default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        b"form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'",
    ),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
)


class SecurityHeaders:
    """Adds the security headers to every response that has not set them itself."""

    def __init__(self, app: ASGIApp, *, hsts: bool) -> None:
        self.app = app
        self.headers = SECURITY_HEADERS + (
            ((b"strict-transport-security", b"max-age=31536000; includeSubDomains"),)
            if hsts
            else ()
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        await self.app(scope, receive, adding_headers(send, self.headers, keep_present=True))


def adding_headers(
    send: Send, headers: Sequence[tuple[bytes, bytes]], *, keep_present: bool
) -> Send:
    """`send`, adding `headers` (lower-case names) to the start of the response; with
    `keep_present`, a header the response has set itself is not added again."""

    async def send_with_headers(message: Message) -> None:
        if message["type"] == "http.response.start":
            have = message.get("headers", [])
            present = {name.lower() for name, _ in have} if keep_present else set()
            message["headers"] = [*have, *((n, v) for n, v in headers if n not in present)]
        await send(message)

    return send_with_headers


def client_address(scope: Scope, *, trusted_proxies: frozenset[str]) -> str:
    """The patron's address: the peer, or the last untrusted hop a trusted proxy names."""
    peer = (scope.get("client") or ("", 0))[0]
    if peer not in trusted_proxies:
        return str(peer)
    for name, value in scope.get("headers", []):
        if name == b"x-forwarded-for":
            hops = [h.strip() for h in value.decode("latin-1").split(",") if h.strip()]
            for hop in reversed(hops):
                if hop not in trusted_proxies:
                    return str(hop)
    return str(peer)
