"""The live hints' policy checks (a progressive enhancement).

The change pages post the new secret as it is typed, with the form's CSRF token, and
get back what the change itself would refuse: the policy with the patron's own words
(card number, name, student number...) and their default. A visitor without a session
gets 401 and the hints stay hidden; the form works the same without them.

The set-up page reached from an e-mailed link has no session: its check is bound to
the link instead (`/set-up/<token>/policy-check`), and answers as the set-up itself
would. Without a valid link it answers 404, and never names the patron's data.
"""

from __future__ import annotations

import re

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from patronauth.domain.credentials import CredentialKind
from patronauth.domain.errors import NotFound, Refused, Violation
from patronauth.presentation.i18n import render
from patronauth.services.policy import check_own_secret
from patronauth.services.resets import check_setup_secret
from patronauth.web.forms import Form
from patronauth.web.pages import NO_STORE, Page

LINK_TOKEN = re.compile(r"[A-Za-z0-9_-]{16,128}")  # the form of an e-mailed link's token


def policy_check(request: Request) -> Response:
    page = Page(request)
    visitor = page.visitor()
    if visitor is None or visitor.institution != page.library.id:
        return JSONResponse({"error": "session.missing"}, status_code=401, headers=NO_STORE)
    form = Form.posted(request)
    try:
        kind = CredentialKind(form.raw("credential"))
        violations = check_own_secret(page.ports, visitor.session, kind, form.raw("secret"))
    except ValueError:
        return JSONResponse({"error": "credential.unknown"}, status_code=422, headers=NO_STORE)
    except Refused as refused:
        return JSONResponse({"error": refused.code}, status_code=422, headers=NO_STORE)
    return _verdict(page, violations)


def setup_policy_check(request: Request) -> Response:
    page = Page(request)
    token = request.path_params["token"]
    form = Form.posted(request)
    try:
        if not LINK_TOKEN.fullmatch(token):
            raise NotFound.of("link.invalid")
        violations = check_setup_secret(
            page.ports, token, form.raw("secret"), institution=page.library.id
        )
    except NotFound:
        return JSONResponse({"error": "link.invalid"}, status_code=404, headers=NO_STORE)
    return _verdict(page, violations)


def _verdict(page: Page, violations: list[Violation]) -> Response:
    answer = {
        "ok": not violations,
        "violations": [{"code": v.code, "message": render(v, page.language)} for v in violations],
    }
    return JSONResponse(answer, headers=NO_STORE)
