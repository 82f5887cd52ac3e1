"""My Account, its Contact tab, and changing the online password or PIN (R5, R6, R13, R18).

The change step of a default, temporary or must-change sign-in (`change-required`) is
the only page such a session reaches (S5); every change ends with a new session id.
"""

from __future__ import annotations

from urllib.parse import urlencode

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from patronauth.domain.credentials import Channel, CredentialKind, CredentialState, Outcome
from patronauth.domain.errors import PolicyRefused, Refused
from patronauth.presentation.i18n import outcome_params
from patronauth.services.credentials import AttemptRefused, ChangeRequest, change_secret
from patronauth.services.record import record
from patronauth.services.signon import services_visited
from patronauth.web.forms import Form
from patronauth.web.hints import hint_messages
from patronauth.web.pages import Page, Visitor
from patronauth.web.views.public import continue_to, resume_target


def summary(request: Request) -> Response:
    page = Page(request)
    visitor = page.require()
    if isinstance(visitor, Response):
        return visitor
    changed = request.query_params.get("changed")
    mine = visitor.account
    patron = mine.patron
    defaults = [
        {
            "kind": kind.value,
            "rule": page.library.credential(patron.category, kind).default_rule_for(
                patron.registered_on
            ),
        }
        for kind in mine.defaults_in_use
    ]
    return page.render(
        "account.html",
        tab="summary",
        account=mine,
        record=record(page.ports, patron.id),
        changed=changed if changed in {k.value for k in page.library.kinds} else None,
        defaults=defaults,
        category_label=page.library.category(patron.category).label.get(page.language, ""),
        contact_kinds=_contact_kinds(page),
        services=services_visited(page.ports, patron.id),
    )


def contact(request: Request) -> Response:
    page = Page(request)
    visitor = page.require()
    if isinstance(visitor, Response):
        return visitor
    channels = {
        kind.value: [c.value for c, k in page.library.channels.items() if k is kind]
        for kind in page.library.kinds
    }
    return page.render(
        "contact.html",
        tab="contact",
        account=visitor.account,
        contact_kinds=_contact_kinds(page),
        channels=channels,
    )


def _contact_kinds(page: Page) -> list[str]:
    """R6: credentials other than the web's are changed under the Contact tab (HKPL's PIN)."""
    return [k.value for k in page.library.kinds if k is not page.web_kind]


def change_password_form(request: Request) -> Response:
    return _change_page(request, CredentialKind.PASSWORD, post=False)


def change_password(request: Request) -> Response:
    return _change_page(request, CredentialKind.PASSWORD, post=True)


def change_pin_form(request: Request) -> Response:
    return _change_page(request, CredentialKind.PIN, post=False)


def change_pin(request: Request) -> Response:
    return _change_page(request, CredentialKind.PIN, post=True)


def _change_page(request: Request, kind: CredentialKind, *, post: bool) -> Response:
    page = Page(request)
    if kind not in page.library.kinds:
        raise HTTPException(404)
    visitor = page.require()
    if isinstance(visitor, Response):
        return visitor
    if page.library.directory_for(visitor.account.patron.category) is not None:
        # R20: the Portal PIN is changed at the university; this page only says so.
        return _show(page, visitor, kind, Form(), forced=False, status=403 if post else 200)
    if post:
        return _change(page, visitor, kind, forced=False)
    return _show(page, visitor, kind, Form(), forced=False)


def forced_change_form(request: Request) -> Response:
    page = Page(request)
    visitor = page.require(change_step=True)
    if isinstance(visitor, Response):
        return visitor
    return _show(page, visitor, _forced_kind(page, visitor), Form(), forced=True)


def forced_change(request: Request) -> Response:
    page = Page(request)
    visitor = page.require(change_step=True)
    if isinstance(visitor, Response):
        return visitor
    return _change(page, visitor, _forced_kind(page, visitor), forced=True)


def _forced_kind(page: Page, visitor: Visitor) -> CredentialKind:
    return visitor.session.change_kind or page.web_kind


def _change(page: Page, visitor: Visitor, kind: CredentialKind, *, forced: bool) -> Response:
    form = Form.posted(page.request)
    label = page.label(kind)
    current = form.secret("current", empty="form.current_empty", credential=label)
    new = form.filled("new", empty="form.new_empty", credential=label)
    confirm = form.filled("confirm", empty="form.confirm_empty", credential=label)
    code = form.echo("code", limit=CODE_FIELD_LIMIT)
    if form.ok:
        try:
            changed = change_secret(
                page.ports,
                ChangeRequest(
                    identifier=None,
                    current=current,
                    new=new,
                    confirm=confirm,
                    channel=Channel.WEB,
                    kind=kind,
                    source=page.source,
                    code=code or None,
                ),
                session=visitor.session,
                rotate=True,
            )
        except AttemptRefused as refused:
            _current_refused(page, form, refused, label)
        except PolicyRefused as refused:
            form.refuse("new", refused)
        except Refused as refused:
            field = _FIELDS.get(refused.code)
            form.refuse(field, refused, credential=label)
        else:
            resume = resume_target(page.request.query_params.get("next", "")) if forced else None
            if resume:
                # A must-change sign-in for a library service goes on to the service.
                response: Response = continue_to(page, resume)
            else:
                response = page.redirect(page.url("account", changed=kind.value))
            if changed.opened is not None:
                page.site.set_session(response, changed.opened.token)
            return response
    retry = [p.violation.params.get("seconds") for p in form.problems]
    seconds = next((s for s in retry if s), None)
    headers = {"retry-after": str(seconds)} if seconds else None
    return _show(page, visitor, kind, form, forced=forced, status=422, headers=headers)


CODE_FIELD_LIMIT = 32
# Refusals about one field of the change form; the others are about the form as a whole.
_FIELDS = {
    "secret.confirmation_mismatch": "confirm",
    "change.code_sent": "code",
    "change.code_invalid": "code",
}


def _current_refused(page: Page, form: Form, refused: AttemptRefused, label: str) -> None:
    result = refused.result
    if result.outcome is Outcome.INVALID:
        form.fail("current", "form.current_wrong", credential=label)
        return
    params = outcome_params(
        (result.kind or page.web_kind).value,
        page.library.id,
        result.retry_after,
        result.contact or page.library.contact,
        page.site.libraries,
        page.language,
    )
    form.fail(None, result.outcome.reason, **params)


def _show(
    page: Page,
    visitor: Visitor,
    kind: CredentialKind,
    form: Form,
    *,
    forced: bool,
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:
    patron = visitor.account.patron
    settings = page.library.credential(patron.category, kind)
    resume = resume_target(page.request.query_params.get("next", "")) if forced else None
    policy = settings.policy_on(page.library.day_of(page.ports.clock.now()))
    state = next((c.state for c in visitor.account.credentials if c.kind is kind), None)
    return page.render(
        "change.html",
        status=status,
        headers=headers,
        form=form,
        forced=forced,
        tab="contact" if kind.value in _contact_kinds(page) else "summary",
        kind=kind.value,
        label=page.label(kind),
        state=state.value if state else None,
        default_rule=settings.default_rule_for(patron.registered_on)
        if state is CredentialState.DEFAULT
        else None,
        policy=policy,
        # The code field, once a code has been sent for this change.
        ask_code=any(p.field == "code" for p in form.problems),
        hint_messages=hint_messages(policy, page.language),
        account=visitor.account,
        contact_kinds=_contact_kinds(page),
        directory=page.library.directory_for(patron.category),
        resume_query=urlencode({"next": resume}) if resume else "",
    )
