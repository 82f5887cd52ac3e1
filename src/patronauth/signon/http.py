"""What the sign-on endpoints share: bounded form bodies and the caller's address."""

from __future__ import annotations

from urllib.parse import parse_qsl

from starlette.requests import Request

from patronauth.bootstrap import App
from patronauth.presentation.http import client_address

MAX_BODY_BYTES = 16 * 1024
MAX_FIELDS = 30
MAX_VALUE_LENGTH = 2048


class BadForm(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


async def read_form(request: Request) -> dict[str, str]:
    """A form-urlencoded body of at most 16 KiB, UTF-8 throughout; the first value of
    each field. Anything else raises `BadForm`."""
    kind = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if kind != "application/x-www-form-urlencoded":
        raise BadForm(415, "unsupported content type")
    declared = request.headers.get("content-length", "0")
    if not declared.isdigit() or int(declared) > MAX_BODY_BYTES:
        raise BadForm(413, "request too large")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise BadForm(413, "request too large")
    try:
        pairs = parse_qsl(
            bytes(body).decode("utf-8"),
            keep_blank_values=True,
            max_num_fields=MAX_FIELDS,
            errors="strict",
        )
    except (UnicodeDecodeError, ValueError):
        raise BadForm(400, "not a UTF-8 form") from None
    fields: dict[str, str] = {}
    for name, value in pairs:
        if len(value) > MAX_VALUE_LENGTH or "\x00" in value:
            raise BadForm(400, "malformed field")
        fields.setdefault(name, value)
    return fields


def caller(request: Request, app: App) -> str:
    return client_address(request.scope, trusted_proxies=app.settings.trusted_proxies)
