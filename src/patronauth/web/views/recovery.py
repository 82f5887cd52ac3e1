"""Forgotten secrets, first-time set-up and the one-time links that e-mails carry
(R7, R14, R17, R23, R24, S4).

Requests always get the same answer, found or not, and get it first: the look-up,
the new secret or link and the e-mail are made after the answer has been sent (as
the API does), so that neither the answer nor its timing tells whether the details
matched a patron (S4). The links' pages show a form on GET and act only on POST, so
that a mail scanner opening a link changes nothing.
"""

from __future__ import annotations

from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import Response

from patronauth.domain.credentials import CredentialKind
from patronauth.domain.errors import NotFound, PolicyRefused, Refused
from patronauth.domain.profile import CredentialSettings, SelfServiceReset
from patronauth.services.interfaces import ActionPurpose
from patronauth.services.resets import (
    LinkTarget,
    ResetRequest,
    complete_setup,
    open_link,
    request_reset,
    request_setup,
    revert_to_default,
)
from patronauth.web.forms import Form
from patronauth.web.hints import hint_messages
from patronauth.web.pages import Page
from patronauth.web.views.policy import LINK_TOKEN


def _web_settings(page: Page) -> CredentialSettings:
    return page.library.credential(None, page.web_kind)


# --- forgot password (R7, R14) -------------------------------------------------------


def forgot_form(request: Request) -> Response:
    page = Page(request)
    if moved := page.gate():
        return moved
    return _forgot(page, Form(), sent=request.query_params.get("sent") == "1")


def forgot(request: Request) -> Response:
    page = Page(request)
    if moved := page.gate():
        return moved
    settings = _web_settings(page)
    if settings.self_service_reset is SelfServiceReset.NONE:
        return _forgot(page, Form())
    form = Form.posted(request)
    email = form.email("email")
    if not form.ok:
        return _forgot(page, form, status=422)
    answer = page.redirect(page.url("forgot", sent="1"))
    asked = ResetRequest(
        None, email, source=page.source, institution=page.library.id, language=page.language
    )
    answer.background = BackgroundTask(request_reset, page.ports, asked)
    return answer


def _forgot(page: Page, form: Form, *, sent: bool = False, status: int = 200) -> Response:
    return page.render(
        "forgot.html",
        status=status,
        form=form,
        sent=sent,
        method=_web_settings(page).self_service_reset.value,
        label=page.label(page.web_kind),
    )


# --- first-time set-up (R23), at every library for patrons registered without a default


def setup_request_form(request: Request) -> Response:
    page = Page(request)
    if moved := page.gate():
        return moved
    return _setup_request(page, Form(), sent=request.query_params.get("sent") == "1")


def setup_request(request: Request) -> Response:
    page = Page(request)
    if moved := page.gate():
        return moved
    form = Form.posted(request)
    identifier = form.identifier("identifier")
    email = form.email("email")
    if not form.ok:
        return _setup_request(page, form, status=422)
    answer = page.redirect(page.url("set-up", sent="1"))
    asked = ResetRequest(
        identifier,
        email,
        source=page.source,
        institution=page.library.id,
        language=page.language,
    )
    answer.background = BackgroundTask(request_setup, page.ports, asked)
    return answer


def _setup_request(page: Page, form: Form, *, sent: bool = False, status: int = 200) -> Response:
    return page.render(
        "set_up_request.html",
        status=status,
        form=form,
        sent=sent,
        label=page.label(page.web_kind),
    )


# --- the one-time links ------------------------------------------------------------------


def _target(page: Page, purpose: ActionPurpose) -> LinkTarget | None:
    token = page.request.path_params["token"]
    if not LINK_TOKEN.fullmatch(token):
        return None
    try:
        target = open_link(page.ports, token, purpose)
    except NotFound:
        return None
    return target if target.institution == page.library.id else None


def _link_invalid(page: Page) -> Response:
    return page.render("link.html", status=404, outcome="invalid", kind=page.web_kind.value)


def setup_link_form(request: Request) -> Response:
    page = Page(request)
    if moved := page.gate():
        return moved
    target = _target(page, ActionPurpose.SET_UP)
    if target is None:
        return _link_invalid(page)
    return _setup_page(page, target, Form())


def setup_link(request: Request) -> Response:
    page = Page(request)
    if moved := page.gate():
        return moved
    target = _target(page, ActionPurpose.SET_UP)
    if target is None:
        return _link_invalid(page)
    form = Form.posted(request)
    label = page.label(target.kind)
    new = form.filled("new", empty="form.new_empty", credential=label)
    confirm = form.filled("confirm", empty="form.confirm_empty", credential=label)
    if form.ok:
        token = request.path_params["token"]
        try:
            complete_setup(page.ports, token, new, confirm, source=page.source)
        except PolicyRefused as refused:
            form.refuse("new", refused)
        except NotFound:
            return _link_invalid(page)
        except Refused as refused:
            mismatch = refused.code == "secret.confirmation_mismatch"
            form.refuse(
                "confirm" if mismatch else None,
                refused,
                contact=page.library.contact.get(page.language, ""),
            )
        else:
            return page.render("link.html", outcome="set-up", kind=target.kind.value)
    return _setup_page(page, target, form, status=422)


def _setup_page(page: Page, target: LinkTarget, form: Form, *, status: int = 200) -> Response:
    settings = page.library.credential(target.patron.category, target.kind)
    policy = settings.policy_on(page.library.day_of(page.ports.clock.now()))
    return page.render(
        "set_up.html",
        status=status,
        form=form,
        kind=target.kind.value,
        label=page.label(target.kind),
        policy=policy,
        hint_messages=hint_messages(policy, page.language),
    )


def reset_link_form(request: Request) -> Response:
    page = Page(request)
    if moved := page.gate():
        return moved
    target = _target(page, ActionPurpose.REVERT_TO_DEFAULT)
    if target is None:
        return _link_invalid(page)
    return _reset_page(page, target.kind, target)


def reset_link(request: Request) -> Response:
    page = Page(request)
    if moved := page.gate():
        return moved
    target = _target(page, ActionPurpose.REVERT_TO_DEFAULT)
    if target is None:
        return _link_invalid(page)
    kind = target.kind.value
    try:
        revert_to_default(page.ports, request.path_params["token"], source=page.source)
    except NotFound:
        return _link_invalid(page)
    except Refused as refused:
        form = Form()
        form.refuse(None, refused)
        return page.render("link.html", status=409, form=form, outcome="refused", kind=kind)
    return page.render("link.html", outcome="reverted", kind=kind)


def _reset_page(page: Page, kind: CredentialKind, target: LinkTarget) -> Response:
    settings = page.library.credential(target.patron.category, kind)
    return page.render(
        "reset.html",
        kind=kind.value,
        label=page.label(kind),
        default_rule=settings.default_rule_for(target.patron.registered_on),
    )
