"""The live hints' policy check for a signed-in patron (a progressive enhancement).

The change pages post the new secret as it is typed, with the form's CSRF token, and
get back what the change itself would refuse: the policy with the patron's own words
(card number, name, student number...) and their default. A visitor without a session
gets 401 and the hints stay hidden; the form works the same without them.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from patronauth.domain.credentials import CredentialKind
from patronauth.domain.errors import Refused
from patronauth.presentation.i18n import render
from patronauth.services.policy import check_own_secret
from patronauth.web.forms import Form
from patronauth.web.pages import NO_STORE, Page


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
    answer = {
        "ok": not violations,
        "violations": [{"code": v.code, "message": render(v, page.language)} for v in violations],
    }
    return JSONResponse(answer, headers=NO_STORE)
