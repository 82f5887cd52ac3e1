"""One request for one page: its language, its library, its visitor, and rendering."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from patronauth.domain.credentials import Channel, CredentialKind
from patronauth.domain.errors import Refused
from patronauth.domain.profile import Profile
from patronauth.domain.sessions import Scope, Session, SessionChannel
from patronauth.presentation.http import client_address
from patronauth.presentation.i18n import render
from patronauth.services.account import Account, account
from patronauth.services.sessions import close_session, current_session
from patronauth.web.forms import Form
from patronauth.web.site import HTML_LANG, Site

NO_STORE = {"cache-control": "no-store"}


@dataclass(frozen=True)
class Visitor:
    """A signed-in patron: the session and what My Account shows of them."""

    session: Session
    account: Account

    @property
    def institution(self) -> str:
        return self.account.patron.institution

    @property
    def change_step(self) -> bool:
        return self.session.scope is Scope.CHANGE


class Page:
    def __init__(self, request: Request, *, library: bool = True) -> None:
        self.request = request
        self.site: Site = request.app.state.site
        self.ports = self.site.ports
        self.language = self.site.language_of(
            request.cookies, request.headers.get("accept-language")
        )
        self.profile: Profile | None = None
        if library:
            profile = self.site.libraries.get(request.path_params.get("institution", ""))
            if profile is None:
                raise HTTPException(404)
            self.profile = profile
        self._visitor: Visitor | None = None
        self._looked_up = False
        self.session_problem: str | None = None  # why a presented session did not work

    # --- who is asking ------------------------------------------------------------

    @property
    def library(self) -> Profile:
        assert self.profile is not None, "a library page"
        return self.profile

    @property
    def source(self) -> str:
        proxies = self.site.settings.trusted_proxies
        return client_address(self.request.scope, trusted_proxies=proxies)

    @property
    def token(self) -> str | None:
        return self.request.cookies.get(self.site.session_cookie)

    def visitor(self) -> Visitor | None:
        if self._looked_up:
            return self._visitor
        self._looked_up = True
        token = self.token
        if not token:
            return None
        try:
            session = current_session(self.ports, token, channel=SessionChannel.WEB)
            self._visitor = Visitor(session, account(self.ports, session))
        except Refused as refused:
            self.session_problem = refused.code
        return self._visitor

    def require(self, *, change_step: bool = False) -> Visitor | Response:
        """The visitor of a page for signed-in patrons, or where to send them instead."""
        visitor = self.visitor()
        if visitor is None:
            notice = self.session_problem or "session.missing"
            return self.redirect(self.url("sign-in", notice=notice))
        here = visitor.institution == self.library.id
        if visitor.change_step and not (change_step and here):
            return self.redirect(f"/{visitor.institution}/change-required")
        if not here:
            return self.redirect(self.url("sign-in"))
        if change_step and not visitor.change_step:
            return self.redirect(self.url("account"))
        return visitor

    def gate(self) -> Response | None:
        """S5: a session opened for the change step reaches the change page only."""
        visitor = self.visitor()
        if visitor is not None and visitor.change_step:
            return self.redirect(f"/{visitor.institution}/change-required")
        return None

    def close_session(self) -> None:
        """End the session the browser came with, if any, on the server."""
        close_session(self.ports, self.token, channel=SessionChannel.WEB)

    def end_session(self, response: Response) -> None:
        self.close_session()
        self.site.end_session(response)

    # --- the library's words --------------------------------------------------------

    def label(self, kind: CredentialKind) -> str:
        """The library's own word for a credential, in the page's language."""
        return self.library.credential_label(kind.value, self.language)

    @property
    def web_kind(self) -> CredentialKind:
        return self.library.kind_for(Channel.WEB)

    # --- answers ----------------------------------------------------------------------

    def url(self, page: str, **query: str) -> str:
        path = f"/{self.library.id}/{page}"
        return f"{path}?{urlencode(query)}" if query else path

    def redirect(self, url: str) -> RedirectResponse:
        response = RedirectResponse(url, status_code=303, headers=NO_STORE)
        if self.session_problem:
            self.site.end_session(response)
        return response

    def csrf_token(self) -> str:
        get_token = self.request.scope.get("csrftoken")
        return str(get_token()) if callable(get_token) else ""

    def render(
        self,
        template: str,
        *,
        status: int = 200,
        form: Form | None = None,
        headers: dict[str, str] | None = None,
        **context: Any,
    ) -> HTMLResponse:
        form = form or Form()
        errors = [(p.field, render(p.violation, self.language)) for p in form.problems]
        field_errors: dict[str, list[str]] = {}
        for field, text in errors:
            if field:
                field_errors.setdefault(field, []).append(text)
        here = self.request.url.path
        if self.request.url.query:
            here += "?" + self.request.url.query
        values = {
            "language": self.language,
            "html_lang": HTML_LANG[self.language],
            "library": self.profile,
            "visitor": self._visitor,
            "csrf_token": self.csrf_token(),
            "here": here,
            "form": form,
            "errors": [{"field": field, "message": text} for field, text in errors],
            "field_errors": field_errors,
            **context,
        }
        html = self.site.templates[self.language].get_template(template).render(values)
        response = HTMLResponse(html, status_code=status, headers={**NO_STORE, **(headers or {})})
        if self.session_problem:
            self.site.end_session(response)
        return response
