"""What stands between a posted form and the pages: size and encoding limits, then CSRF.

`FormGuard` drops any `Authorization` header (the pages are signed in by their cookie
alone, and asgi-csrf would skip a request with a bearer token), then reads a POST body
once: at most `MAX_FORM_BYTES`, form-urlencoded, UTF-8 throughout. Anything else is
answered with an error page before any page runs; the parsed fields wait in the scope
(`forms.FORM_KEY`) and the body is replayed to the CSRF check, which is the maintained
asgi-csrf middleware.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

from asgi_csrf import asgi_csrf
from starlette.requests import Request

from patronauth.bootstrap import keyring
from patronauth.presentation.http import ASGIApp, Message, Receive, Scope, Send
from patronauth.web.forms import FORM_KEY
from patronauth.web.site import Site
from patronauth.web.views.errors import problem_response

MAX_FORM_BYTES = 64 * 1024  # the longest honest form here is a few hundred bytes
MAX_FIELDS = 20
FORM_TYPE = b"application/x-www-form-urlencoded"


async def _nothing() -> Message:
    return {"type": "http.disconnect"}


async def refuse(scope: Scope, send: Send, problem: str, status: int) -> None:
    """Answer with the error page of `problem`, without running any page."""
    await problem_response(Request(scope), problem, status)(scope, _nothing, send)


class FormGuard:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            # The pages know only their session cookie. An Authorization header means
            # nothing to them, and asgi-csrf would skip its check for `Bearer` (an
            # API's habit): it never reaches either.
            scope = {**scope, "headers": _without_authorization(scope.get("headers") or [])}
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        content_type = headers.get(b"content-type", b"").split(b";", 1)[0].strip().lower()
        declared = headers.get(b"content-length", b"0")
        # A POST with no body at all is an empty form (a bare button, say).
        if content_type != FORM_TYPE and not (content_type == b"" and declared == b"0"):
            await refuse(scope, send, "form.unsupported", 415)
            return
        if not declared.isdigit() or int(declared) > MAX_FORM_BYTES:
            await refuse(scope, send, "form.too_large", 413)
            return
        body = bytearray()
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > MAX_FORM_BYTES:
                await refuse(scope, send, "form.too_large", 413)
                return
        try:
            text = bytes(body).decode("utf-8")
            pairs = parse_qsl(
                text,
                keep_blank_values=True,
                max_num_fields=MAX_FIELDS,
                encoding="utf-8",
                errors="strict",
            )
        except (UnicodeDecodeError, ValueError):
            await refuse(scope, send, "form.not_utf8", 400)
            return
        fields: dict[str, str] = {}
        for name, value in pairs:
            fields.setdefault(name, value)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": bytes(body), "more_body": False}
            return await receive()

        await self.app({**scope, FORM_KEY: fields}, replay, send)


def _without_authorization(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    return [(name, value) for name, value in headers if name.lower() != b"authorization"]


class _EveryPath:
    """asgi-csrf checks a POST without cookies only on the paths listed here: all of
    them, so that a forged sign-in from another site (login CSRF) is refused too."""

    def __contains__(self, path: object) -> bool:
        return True


def csrf_protection(app: ASGIApp, *, site: Site) -> Any:
    async def refused(scope: Scope, send: Send, _: object) -> None:
        await refuse(scope, send, "form.expired", 403)

    return asgi_csrf(
        app,
        cookie_name=site.csrf_cookie,
        signing_secret=keyring(site.settings).derive("csrf"),
        always_protect=_EveryPath(),
        cookie_secure=site.secure,
        cookie_samesite="Lax",
        send_csrf_failed=refused,
    )
