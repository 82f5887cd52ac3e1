"""The list of libraries, signing in and out, and the choice of language."""

from __future__ import annotations

from urllib.parse import urlencode, urlsplit

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from patronauth.domain.credentials import Channel, Outcome
from patronauth.domain.sessions import SessionChannel
from patronauth.presentation.i18n import LANGUAGES, outcome_params
from patronauth.services.authenticate import Attempt, AuthResult
from patronauth.services.signin import sign_in as sign_in_patron
from patronauth.services.signon import end_sign_on
from patronauth.web.forms import Form
from patronauth.web.pages import NO_STORE, Page

# Notices the sign-in page shows when sent there (`?notice=`): message codes, and
# "signed-out" (its text is in the template).
SIGN_IN_NOTICES = frozenset(
    {"session.missing", "session.not_issued", "session.invalid", "session.expired", "signed-out"}
)
_STATUS = {
    Outcome.INVALID: 422,
    Outcome.BLOCKED: 429,
    Outcome.THROTTLED: 429,
    Outcome.SUSPENDED: 403,
    Outcome.PENDING_REGISTRATION: 403,
    Outcome.BARRED: 403,
    Outcome.NOT_PROVISIONED: 403,
}


def index(request: Request) -> Response:
    page = Page(request, library=False)
    if moved := page.gate():
        return moved
    libraries = sorted(page.site.libraries.values(), key=lambda p: p.name["en"])
    return page.render("index.html", libraries=libraries)


RESUMABLE = ("/oidc/authorize?", "/cas/login?")


def resume_target(target: str) -> str | None:
    """Where a sign-in for a library service goes on to: the sign-on endpoints of this
    site only (never another site, never another page)."""
    if len(target) > 4096 or not target.startswith(RESUMABLE):
        return None
    return safe_next(target) if safe_next(target) == target else None


def continue_to(page: Page, target: str) -> Response:
    """Move on by a new navigation: a redirect of the form's own answer to the service
    would be held to this page's form-action."""
    return page.render("continue.html", target=target)


def safe_next(target: str) -> str:
    """Only a path of this site: never another site (no open redirect)."""
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    if any(ord(ch) < 0x21 or ord(ch) == 0x7F for ch in target):
        return "/"
    return target


def choose_language(request: Request) -> Response:
    page = Page(request, library=False)
    form = Form.posted(request)
    response = RedirectResponse(safe_next(form.raw("next")), status_code=303, headers=NO_STORE)
    choice = form.raw("language")
    if choice in LANGUAGES:
        page.site.set_language(response, choice)
    return response


def language_page(_: Request) -> Response:
    return RedirectResponse("/", status_code=303)


def sign_in_form(request: Request) -> Response:
    page = Page(request)
    visitor = page.visitor()
    if moved := page.gate():
        return moved
    resume = resume_target(request.query_params.get("next", ""))
    if visitor is not None and visitor.institution == page.library.id:
        return page.redirect(resume or page.url("account"))
    notice = request.query_params.get("notice")
    return _show(page, Form(), notice=notice if notice in SIGN_IN_NOTICES else None, resume=resume)


def sign_in(request: Request) -> Response:
    page = Page(request)
    if moved := page.gate():
        return moved
    form = Form.posted(request)
    label = page.label(page.web_kind)
    identifier = form.identifier("identifier")
    secret = form.secret("secret", empty="form.secret_empty", credential=label)
    resume = resume_target(form.raw("next"))
    if not form.ok:
        return _show(page, form, status=422, resume=resume)
    signed = sign_in_patron(
        page.ports,
        Attempt(
            identifier,
            secret,
            Channel.WEB,
            source=page.source,
            institution=page.library.id,
        ),
        session=SessionChannel.WEB,
    )
    opened = signed.opened
    if opened is None:
        return _refused(page, form, signed.result, resume)
    target = "change-required" if opened.must_change else "account"
    # S7: a new session id at every sign-in; whatever session came with the browser ends.
    page.close_session()
    if resume and not opened.must_change:
        response = continue_to(page, resume)
    elif resume:
        response = page.redirect(page.url(target, next=resume))
    else:
        response = page.redirect(page.url(target))
    page.site.set_session(response, opened.token)
    return response


def _refused(page: Page, form: Form, result: AuthResult, resume: str | None) -> Response:
    params = outcome_params(
        result.kind.value if result.kind else page.web_kind.value,
        result.institution or page.library.id,
        result.retry_after,
        result.contact or page.library.contact,
        page.site.libraries,
        page.language,
    )
    field = "identifier" if result.outcome is Outcome.INVALID else None
    form.fail(field, result.outcome.reason, **params)
    headers = {"retry-after": str(result.retry_after)} if result.retry_after else None
    return _show(
        page, form, status=_STATUS.get(result.outcome, 422), headers=headers, resume=resume
    )


def _show(
    page: Page,
    form: Form,
    *,
    status: int = 200,
    notice: str | None = None,
    headers: dict[str, str] | None = None,
    resume: str | None = None,
) -> Response:
    kind = page.web_kind
    settings = page.library.credential(None, kind)
    return page.render(
        "sign_in.html",
        status=status,
        form=form,
        headers=headers,
        notice=notice,
        label=page.label(kind),
        first_time_setup=settings.first_time_setup,
        resume=resume,
    )


def sign_out_form(request: Request) -> Response:
    page = Page(request)
    if page.visitor() is None:
        return page.redirect(page.url("sign-in"))
    return page.render("sign_out.html")


def sign_out(request: Request) -> Response:
    """Signing out ends the sign-on session too: the tokens services were given under
    it end, and the services with a front-channel logout URI are told (in frames)."""
    page = Page(request)
    visitor = page.visitor()
    told = end_sign_on(page.ports, visitor.session.id) if visitor is not None else []
    target = page.url("sign-in", notice="signed-out")
    if not told:
        response: Response = page.redirect(target)
    else:
        frames = [
            logout_frame(uri, page.site.settings.public_url) for c in told for uri in c.logout_uris
        ]
        origins = " ".join(sorted({_origin(f) for f in frames}))
        csp = (
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
            f"form-action 'self'; frame-src {origins}; frame-ancestors 'none'; "
            "base-uri 'none'; object-src 'none'"
        )
        response = page.render(
            "signed_out_services.html",
            frames=frames,
            target=target,
            headers={"content-security-policy": csp},
        )
    page.end_session(response)
    return response


def logout_frame(uri: str, public_url: str) -> str:
    """A front-channel logout URI with the issuer, as OpenID Connect's front-channel
    logout names it."""
    return uri + ("&" if "?" in uri else "?") + urlencode({"iss": public_url + "/oidc"})


def _origin(uri: str) -> str:
    parts = urlsplit(uri)
    return f"{parts.scheme}://{parts.netloc}"


def library_home(request: Request) -> Response:
    page = Page(request)
    if moved := page.gate():
        return moved
    visitor = page.visitor()
    signed_in = visitor is not None and visitor.institution == page.library.id
    return page.redirect(page.url("account" if signed_in else "sign-in"))
