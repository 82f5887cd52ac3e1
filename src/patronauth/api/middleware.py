"""The API's edge: a bound on request bodies, headers every answer carries, and sign-ins
answered before routing."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Mapping

from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from patronauth.api.errors import failure_error, http_error, outcome_error
from patronauth.api.language import negotiate
from patronauth.api.schemas import SignIn
from patronauth.api.signing import opened_answer
from patronauth.domain.credentials import Channel, Outcome
from patronauth.domain.lockout import RefusalPace, paced
from patronauth.domain.profile import Profile
from patronauth.presentation.http import ASGIApp, Message, Receive, Scope, Send, adding_headers
from patronauth.services.authenticate import Attempt, AuthResult
from patronauth.services.signin import SignedIn

MAX_BODY_BYTES = 64 * 1024  # the largest request of the API is a few hundred bytes
RENDERED_REFUSALS = 1024  # answers kept rendered (seconds left x languages x credentials)
PACED = frozenset({Outcome.BLOCKED, Outcome.THROTTLED})  # refusals that cost no hash
UNPACED = RefusalPace(per_second=0)


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


class SignInEdge:
    """P1, P2: a well-formed `POST /api/v1/sessions` is answered before any routing: it
    wraps the whole site, so a sign-in passes neither the site's router nor the API's
    application and its middleware, and hands over to a worker thread once.

    The body is parsed as the route parses it. A block this process saw a moment ago is
    answered from memory on the event loop (`known_refusal`); anything else is the one
    sign-in of the route (`sign_in_blocked_first`, in a worker thread), answered as the
    route answers it: the same status, headers and bytes (the headers `AnswerHeaders`
    gives every API answer are added here), a failure in the API's error shape. A body
    the route would refuse before signing in (malformed, too large, an unknown
    institution) goes on to the route untouched.

    Refusals that cost no hash (a blocked card, a throttled source) are answered at
    most `pace.per_second` a second; one beyond it waits on the event loop, where a
    wait costs nothing, so that a flood of them leaves the cores to the patrons
    signing in beside it (P2)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        path: str,
        sign_in: Callable[[Attempt], SignedIn],
        known: Callable[[Attempt], AuthResult | None] | None = None,
        source: Callable[[Scope], str],
        profiles: Mapping[str, Profile],
        pace: RefusalPace = UNPACED,
        limit: int = MAX_BODY_BYTES,
    ) -> None:
        self.app = app
        self.path = path
        self.sign_in = sign_in
        self.known = known
        self.source = source
        self.profiles = profiles
        self.limit = limit
        self.pace = pace
        self._turns: dict[float, asyncio.Event] = {}  # refusals waiting, by when they go
        self._rendered: dict[tuple[object, ...], list[Message]] = {}

    def _wanted(self, scope: Scope) -> bool:
        if scope["type"] != "http" or scope.get("method") != "POST":
            return False
        path, root = str(scope.get("path", "")), str(scope.get("root_path", ""))
        if root and path.startswith(root):
            path = path[len(root) :]
        declared = _header(scope, b"content-length")
        kind = (_header(scope, b"content-type") or "").split(";")[0].strip().lower()
        return (
            path == self.path
            and kind == "application/json"
            and declared is not None
            and declared.isdigit()
            and int(declared) <= self.limit
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not self._wanted(scope):
            await self.app(scope, receive, send)
            return
        messages: list[Message] = []
        received = 0
        while received <= self.limit:
            message = await receive()
            messages.append(message)
            received += len(message.get("body", b""))
            if message["type"] != "http.request" or not message.get("more_body", False):
                break

        async def replay() -> Message:
            if messages:
                return messages.pop(0)
            return await receive()

        attempt = None
        if received <= self.limit:  # else the route's `BodyLimit` answers 413
            body = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.request")
            attempt = self._attempt(scope, body)
        if attempt is None:
            await self.app(scope, replay, send)
            return
        language = negotiate(_header(scope, b"accept-language"))
        answer = adding_headers(send, AnswerHeaders.HEADERS, keep_present=False)
        try:
            known = self.known(attempt) if self.known is not None else None
        except Exception:
            known = None  # the sign-in asks the counter, and answers what fails there
        if known is not None:
            await self._send_refusal(scope, known, language, send)
            return
        try:
            signed = await run_in_threadpool(self.sign_in, attempt)
        except Exception as failure:
            error = failure_error(failure, language, "POST")
            await error.response()(scope, replay, answer)
            if error.status == 500:  # a crash, not a refusal or an outage
                raise  # after the answer, as the API's handlers do: the server logs it
            return
        if signed.opened is None:
            await self._send_refusal(scope, signed.result, language, send)
            return
        await opened_answer(signed, language, self.profiles)(scope, replay, answer)

    async def _send_refusal(
        self, scope: Scope, result: AuthResult, language: str, send: Send
    ) -> None:
        messages = await self._refusal(scope, result, language)
        if result.outcome in PACED:
            now = time.monotonic()
            self.pace, wait = paced(self.pace, now)
            if wait > 0:
                await self._wait(now, wait)
        for message in messages:
            await send(dict(message))  # a copy: an outer layer may set its headers

    async def _wait(self, now: float, seconds: float) -> None:
        """Wait until `now + seconds`, a turn of the pace: the refusals answered at the
        same turn share one timer."""
        at = round(now + seconds, 4)
        turn = self._turns.get(at)
        if turn is None:
            turn = self._turns[at] = asyncio.Event()
            asyncio.get_running_loop().call_later(seconds, self._go, at)
        await turn.wait()

    def _go(self, at: float) -> None:
        self._turns.pop(at).set()

    async def _refusal(self, scope: Scope, result: AuthResult, language: str) -> list[Message]:
        """The messages of the route's answer to `result` in `language`, rendered once
        per answer: a flood of refusals of one block gets the same few (P2). Nothing in
        them depends on the patron (S3)."""
        key = (
            result.outcome,
            result.kind,
            result.institution,
            result.retry_after,
            tuple(sorted(result.contact.items())),
            language,
        )
        messages = self._rendered.get(key)
        if messages is None:
            kept: list[Message] = []

            async def keep(message: Message) -> None:
                kept.append(message)

            async def nothing() -> Message:
                return {"type": "http.disconnect"}  # an answer reads no request

            response = outcome_error(result, language, self.profiles).response()
            await response(
                scope, nothing, adding_headers(keep, AnswerHeaders.HEADERS, keep_present=False)
            )
            if len(self._rendered) >= RENDERED_REFUSALS:
                self._rendered.clear()
            messages = self._rendered[key] = kept
        return messages

    def _attempt(self, scope: Scope, body: bytes) -> Attempt | None:
        if not body.lstrip().startswith(b"{"):
            return None  # not a sign-in: the route says what is wrong with it
        try:
            parsed = SignIn.model_validate(json.loads(body))
        except (ValueError, ValidationError, RecursionError):
            return None
        if parsed.institution is not None and parsed.institution not in self.profiles:
            return None
        return Attempt(
            parsed.identifier,
            parsed.secret,
            Channel.APP,
            parsed.credential,
            source=self.source(scope),
            institution=parsed.institution,
        )
