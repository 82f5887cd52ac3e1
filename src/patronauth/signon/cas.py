"""The CAS 3.0 server at /cas/: `login` (service, renew, gateway), `serviceValidate` and
`p3/serviceValidate` (XML with the patron's attributes), `proxyValidate` (refused:
proxy tickets are not offered), `logout`.

A service is known by its registered service URL, matched exactly. Service tickets
are random, single-use, valid 10 s and bound to the service they were issued for
(`services.signon`). The patron signs in through the web sign-in page, as for
OpenID Connect; `renew=true` asks again unless the credentials were just presented.
"""

from __future__ import annotations

from urllib.parse import urlencode
from xml.etree import ElementTree

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from patronauth.bootstrap import App
from patronauth.domain.errors import Refused
from patronauth.domain.patrons import Patron
from patronauth.domain.sessions import Scope
from patronauth.domain.signon import Client
from patronauth.services.signon import (
    cas_service_client,
    end_sign_on,
    issue_ticket,
    library_claims,
    pairwise_subject,
    patron_of,
    validate_ticket,
)
from patronauth.signon.pages import Pages

NS = "http://www.yale.edu/tp/cas"
MAX_PARAM_LENGTH = 2048
RENEWED_SECONDS = 120  # credentials typed this recently count as a new login
NO_STORE = {"cache-control": "no-store"}

ElementTree.register_namespace("cas", NS)


def _tag(name: str) -> str:
    return f"{{{NS}}}{name}"


def _xml(root: ElementTree.Element, status: int = 200) -> Response:
    body = ElementTree.tostring(root, encoding="utf-8", xml_declaration=False)
    return Response(body, status_code=status, media_type="application/xml", headers=NO_STORE)


def failure(code: str, text: str) -> Response:
    root = ElementTree.Element(_tag("serviceResponse"))
    failed = ElementTree.SubElement(root, _tag("authenticationFailure"), {"code": code})
    failed.text = text
    return _xml(root)


def success(
    user: str, attributes: dict[str, str], *, renewed: bool, authenticated: str
) -> Response:
    root = ElementTree.Element(_tag("serviceResponse"))
    done = ElementTree.SubElement(root, _tag("authenticationSuccess"))
    ElementTree.SubElement(done, _tag("user")).text = user
    attrs = ElementTree.SubElement(done, _tag("attributes"))
    ElementTree.SubElement(attrs, _tag("authenticationDate")).text = authenticated
    ElementTree.SubElement(attrs, _tag("isFromNewLogin")).text = "true" if renewed else "false"
    for name, value in attributes.items():
        ElementTree.SubElement(attrs, _tag(name)).text = value
    return _xml(root)


def _with(url: str, **params: str) -> str:
    return url + ("&" if "?" in url else "?") + urlencode(params)


def routes(app: App) -> list[BaseRoute]:
    ports = app.ports
    pages = Pages(app)

    def _too_long(request: Request) -> bool:
        return any(len(v) > MAX_PARAM_LENGTH for v in request.query_params.values())

    def login_sync(request: Request) -> Response:
        params = request.query_params
        service = params.get("service", "")
        if not service or _too_long(request):
            return pages.error(request, "cas.INVALID_REQUEST", 400)
        client = cas_service_client(ports, service)
        if client is None:
            return pages.error(request, "cas.UNAUTHORIZED_SERVICE", 400)
        renew = params.get("renew", "").lower() == "true"
        gateway = params.get("gateway", "").lower() == "true" and not renew
        resume = "/cas/login?" + urlencode(
            {"service": service, **({"renew": "true"} if renew else {})}
        )
        session = pages.session(request)
        if session is not None:
            patron = patron_of(ports, session.patron_id)
            renewed = (ports.clock.now() - session.started_at).total_seconds() <= RENEWED_SECONDS
            if patron.institution != client.institution or (renew and not renewed):
                pages.close_session(request)
                session = None
        if session is None:
            if gateway:
                return RedirectResponse(service, status_code=303, headers=NO_STORE)
            return pages.sign_in(client.institution, resume)
        if session.scope is Scope.CHANGE:
            return pages.change_first(client.institution, resume)
        ticket = issue_ticket(
            ports,
            client,
            service,
            session.patron_id,
            renewed=renewed,
            session_id=session.id,
            source=pages.source(request),
        )
        return RedirectResponse(_with(service, ticket=ticket), status_code=302, headers=NO_STORE)

    async def login(request: Request) -> Response:
        return await run_in_threadpool(login_sync, request)

    def _attributes(client: Client, patron: Patron) -> dict[str, str]:
        standing = library_claims(ports, patron)
        found = {
            "institution": standing.institution,
            "category": standing.category,
            "status": standing.status.value,
            "finesOverThreshold": "true" if standing.fines_over_threshold else "false",
        }
        if patron.name:
            found["name"] = patron.name
        if patron.email:
            found["email"] = patron.email
        return found

    def validate_sync(request: Request) -> Response:
        params = request.query_params
        ticket, service = params.get("ticket", ""), params.get("service", "")
        if not ticket or not service or _too_long(request):
            return failure("INVALID_REQUEST", "ticket and service are required")
        if params.get("pgtUrl"):
            return failure("UNAUTHORIZED_SERVICE_PROXY", "proxy granting tickets are not offered")
        renew = params.get("renew", "").lower() == "true"
        try:
            patron, stored = validate_ticket(ports, ticket, service, renew=renew)
        except Refused as refused:
            code = refused.code.removeprefix("cas.")
            return failure(code, "the ticket is not valid for this service")
        client = cas_service_client(ports, service)
        if client is None or ports.signing_keys is None:
            return failure("INVALID_SERVICE", "the service is no longer registered")
        user = pairwise_subject(ports.signing_keys.pairwise_salt, client, patron)
        return success(
            user,
            _attributes(client, patron),
            renewed=stored.renewed,
            authenticated=ports.clock.now().isoformat(),
        )

    async def validate(request: Request) -> Response:
        return await run_in_threadpool(validate_sync, request)

    def proxy_validate(_: Request) -> Response:
        return failure("UNAUTHORIZED_SERVICE_PROXY", "proxy tickets are not offered here")

    def logout_sync(request: Request) -> Response:
        service = request.query_params.get("service", "")
        target = service if service and cas_service_client(ports, service) else None
        session = pages.session(request)
        told: list[Client] = []
        if session is not None:
            told = end_sign_on(ports, session.id)
            pages.close_session(request)
        frames = [uri for c in told for uri in c.logout_uris]
        return pages.signed_out(request, frames, target)

    async def logout(request: Request) -> Response:
        if _too_long(request):
            return pages.error(request, "cas.INVALID_REQUEST", 400)
        return await run_in_threadpool(logout_sync, request)

    return [
        Route("/cas/login", login, methods=["GET"]),
        Route("/cas/serviceValidate", validate, methods=["GET"]),
        Route("/cas/p3/serviceValidate", validate, methods=["GET"]),
        Route("/cas/proxyValidate", proxy_validate, methods=["GET"]),
        Route("/cas/p3/proxyValidate", proxy_validate, methods=["GET"]),
        Route("/cas/logout", logout, methods=["GET"]),
    ]
