"""PolyU's book recommendations and interlibrary-loan requests (R8), and the list of a
patron's requests with their status. Libraries that take no such requests online have
none of these pages."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from patronauth.domain.circulation import REQUEST_LIMITS, RequestKind
from patronauth.domain.credentials import Channel
from patronauth.domain.errors import Refused
from patronauth.services.requests import requests_of, submit_request
from patronauth.web.forms import Form
from patronauth.web.pages import Page, Visitor
from patronauth.web.views.lending import field_name, record_id, refusal_status, signed_in

# The kinds of request in the pages' addresses.
SLUGS = {"recommendation": RequestKind.RECOMMENDATION,
         "interlibrary-loan": RequestKind.INTERLIBRARY_LOAN}  # fmt: skip


def _offered(request: Request) -> tuple[Page, Visitor] | Response:
    found = signed_in(request)
    if isinstance(found, Response):
        return found
    page, _ = found
    if not page.library.requests:
        raise HTTPException(404)
    return found


def _kind(page: Page, request: Request) -> RequestKind:
    kind = SLUGS.get(request.path_params["kind"])
    if kind is None or kind.value not in page.library.requests:
        raise HTTPException(404)
    return kind


def listing(request: Request) -> Response:
    found = _offered(request)
    if isinstance(found, Response):
        return found
    page, visitor = found
    mine = requests_of(page.ports, visitor.account.patron.id)
    submitted = record_id(request.query_params.get("submitted", ""))
    return page.render(
        "requests.html",
        tab="requests",
        requests=mine,
        submitted=next((r for r in mine if r.id == submitted), None),
        kinds=_offered_kinds(page),
    )


def _offered_kinds(page: Page) -> list[tuple[str, str]]:
    return [(slug, kind.value) for slug, kind in SLUGS.items() if kind in page.library.requests]


def request_form(request: Request) -> Response:
    found = _offered(request)
    if isinstance(found, Response):
        return found
    page, _ = found
    return _show(page, _kind(page, request), Form())


def submit(request: Request) -> Response:
    found = _offered(request)
    if isinstance(found, Response):
        return found
    page, visitor = found
    kind = _kind(page, request)
    form = Form.posted(request)
    try:
        made = submit_request(
            page.ports,
            visitor.account.patron.id,
            kind,
            title=form.raw("title"),
            author=form.raw("author"),
            note=form.raw("note"),
            channel=Channel.WEB,
        )
    except Refused as refused:
        # Every wrong field at once, each named in the page's language.
        for violation in refused.violations:
            named = {"field": field_name(violation.field, page.language)} if violation.field else {}
            form.refuse(None, Refused(violation), **named)
        status = refusal_status(refused)
    else:
        return page.redirect(page.url("account/requests", submitted=str(made.id)))
    return _show(page, kind, form, status=status)


def _show(page: Page, kind: RequestKind, form: Form, *, status: int = 200) -> Response:
    return page.render(
        "request_form.html",
        status=status,
        form=form,
        tab="requests",
        kind=kind.value,
        slug=next(slug for slug, k in SLUGS.items() if k is kind),
        limits=REQUEST_LIMITS,
    )
