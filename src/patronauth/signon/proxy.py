"""The e-resource proxy's external check, as EZproxy's `::External` method calls it:

    ::external=https://accounts.library.example/proxy/check,
        post=client=ID&key=SECRET&user=^u&pass=^p&ip=^i,valid=+VALID

The answer is plain text. `+VALID` on the first line and `group=<category>` on the
next when the card and secret are right; otherwise one refusal line that never
contains `+VALID`: `-INVALID` (an unknown card and a wrong secret alike), `-BLOCKED`,
`-EXPIRED`, `-BARRED`, `-SUSPENDED`, `-PENDING`, `-CHANGE`. A caller that is not a
registered proxy, calls from an address not allowed or lacks the shared secret gets
`-NOT-ALLOWED` and no attempt is counted.
"""

from __future__ import annotations

import ipaddress

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from patronauth.bootstrap import App
from patronauth.domain.errors import Busy, Refused
from patronauth.services.signon import ProxyAnswer, proxy_check, proxy_client
from patronauth.signon.http import BadForm, caller, read_form

NO_STORE = {"cache-control": "no-store"}
_STATUS = {"valid": 200, "blocked": 429}


def _text(body: str, status: int, **headers: str) -> PlainTextResponse:
    return PlainTextResponse(body, status_code=status, headers={**NO_STORE, **headers})


def render(answer: ProxyAnswer) -> Response:
    if answer.outcome == "valid":
        return _text(f"+VALID\ngroup={answer.group}\n", 200)
    line = "-" + answer.outcome.upper()
    if answer.retry_after:
        return _text(
            f"{line} retry_after={answer.retry_after}\n",
            429,
            **{"retry-after": str(answer.retry_after)},
        )
    return _text(line + "\n", _STATUS.get(answer.outcome, 403))


def _patron_address(fields: dict[str, str], fallback: str) -> str:
    """The patron's address as the proxy saw it (`^i`), for the per-source throttle."""
    try:
        return str(ipaddress.ip_address(fields.get("ip", "").strip()))
    except ValueError:
        return fallback


def routes(app: App) -> list[BaseRoute]:
    async def check(request: Request) -> Response:
        try:
            fields = await read_form(request)
        except BadForm as bad:
            return _text(f"-BAD-REQUEST {bad.reason}\n", bad.status)
        address = caller(request, app)
        try:
            client = await run_in_threadpool(
                proxy_client, app.ports, fields.get("client", ""), fields.get("key", ""), address
            )
        except Refused:
            return _text("-NOT-ALLOWED\n", 403)
        user, secret = fields.get("user", ""), fields.get("pass", "")
        if not user or not secret:
            return _text("-INVALID\n", 403)
        try:
            answer = await run_in_threadpool(
                proxy_check,
                app.ports,
                client,
                user,
                secret,
                source=_patron_address(fields, address),
            )
        except Busy:
            return _text("-BUSY\n", 503, **{"retry-after": str(Busy.retry_after)})
        except Refused:
            # A secret that cannot be one (too long, control characters): no attempt.
            return _text("-INVALID\n", 403)
        return render(answer)

    return [Route("/proxy/check", check, methods=["POST"])]
