"""The telephone line's HTTP endpoints, mounted by the app under /telephone."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from patronauth.bootstrap import App
from patronauth.domain.errors import SchemaMissing, StorageUnavailable
from patronauth.presentation.i18n import message
from patronauth.telephone import twiml, voicexml
from patronauth.telephone.dialogue import HangUp
from patronauth.telephone.line import Line, Refusal

MAX_BODY_BYTES = 8192
POST = ["POST"]

_Hook = Callable[[Request], Awaitable[Response]]


async def _params(request: Request) -> tuple[bytes, dict[str, str]]:
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise Refusal("call.request_too_large", 413)
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
    except UnicodeDecodeError:
        raise Refusal("call.request_invalid") from None
    params: dict[str, str] = {}
    for name, value in pairs:
        if name in params:
            raise Refusal("call.request_invalid")  # one value per name, or none is believed
        params[name] = value
    return body, params


def _answer(code: str, status: int, **params: int) -> Response:
    """A refusal for the platform's logs: the reason code and its English message."""
    return PlainTextResponse(f"{code}: {message(code, 'en', **params)}\n", status_code=status)


def _refused(refusal: Refusal) -> Response:
    return _answer(refusal.code, refusal.status, **refusal.params)


def _unavailable() -> Response:
    response = _answer("service.unavailable", 503)
    response.headers["Retry-After"] = "5"
    return response


def _not_served(_: Request) -> Response:
    return _answer("telephone.platform_not_configured", 404)


def _guarded(hook: _Hook) -> _Hook:
    """A platform's hook, with refusals and an unreachable store turned into answers."""

    async def guarded(request: Request) -> Response:
        try:
            return await hook(request)
        except Refusal as refusal:
            return _refused(refusal)
        except (StorageUnavailable, SchemaMissing):
            return _unavailable()

    return guarded


def create_telephone(app: App) -> Starlette:
    ports = app.ports
    settings = app.settings
    routes: list[Route] = []

    if settings.twilio_auth_token:
        twilio_line = Line(ports, twiml.PLATFORM)
        twilio_signatures = twiml.Signatures(settings.twilio_auth_token, settings.public_url)

        @_guarded
        async def twilio_hook(request: Request) -> Response:
            institution, hook = request.path_params["institution"], request.path_params["hook"]
            _, params = await _params(request)
            twilio_signatures.check(
                request.url.path,
                request.url.query,
                params,
                request.headers.get("x-twilio-signature", ""),
            )
            base = f"{settings.public_url}/telephone/twilio/{institution}"
            call_id = params.get("CallSid", "")
            if hook == "voice":
                caller = params.get("From", "")
                answer = await run_in_threadpool(twilio_line.start, institution, call_id, caller)
            elif hook == "input":
                event = twiml.event(params)
                turn = request.query_params.get("turn", "")
                answer = await run_in_threadpool(
                    twilio_line.next, institution, call_id, turn, event
                )
            elif hook == "status":
                twilio_line.profile(institution)
                await run_in_threadpool(twiml.hang_up_if_ended, twilio_line, params)
                return Response(status_code=204)
            else:
                raise Refusal("call.not_found", 404)
            return Response(twiml.document(answer, f"{base}/input"), media_type="text/xml")

        routes.append(Route("/twilio/{institution}/{hook}", twilio_hook, methods=POST))
    else:
        routes.append(Route("/twilio/{rest:path}", _not_served, methods=POST))

    if settings.voicexml_secret:
        vxml_line = Line(ports, voicexml.PLATFORM)
        vxml_signatures = voicexml.Signatures(settings.voicexml_secret)

        @_guarded
        async def voicexml_hook(request: Request) -> Response:
            institution, hook = request.path_params["institution"], request.path_params["hook"]
            body, params = await _params(request)
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            now = ports.clock.now().timestamp()
            vxml_signatures.check(request.headers, request.method, target, body, now)
            call_id = params.get("callid", "")
            input_url = f"{settings.public_url}/telephone/voicexml/{institution}/input"
            if hook == "start":
                caller = params.get("caller", "")
                answer = await run_in_threadpool(vxml_line.start, institution, call_id, caller)
            elif hook == "input":
                event = voicexml.event(params)
                turn = params.get("turn", "")
                answer = await run_in_threadpool(vxml_line.next, institution, call_id, turn, event)
                if isinstance(event, HangUp):
                    # The answer to <data>, the one fetch a disconnected call makes.
                    return Response(voicexml.ended_reply(), media_type="application/voicexml+xml")
            else:
                raise Refusal("call.not_found", 404)
            return Response(
                voicexml.document(answer, input_url, call_id),
                media_type="application/voicexml+xml",
            )

        routes.append(Route("/voicexml/{institution}/{hook}", voicexml_hook, methods=POST))
    else:
        routes.append(Route("/voicexml/{rest:path}", _not_served, methods=POST))

    return Starlette(routes=routes)
