"""The few pages of sign-on (consent, errors, continuing to a service, signed out),
in the web pages' look: the same base template, the same translations."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode, urlsplit

from jinja2 import ChoiceLoader, Environment, PackageLoader, StrictUndefined
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from patronauth.bootstrap import App
from patronauth.domain.errors import Refused
from patronauth.domain.patrons import Patron
from patronauth.domain.sessions import Session, SessionChannel
from patronauth.domain.signon import Client
from patronauth.presentation.http import client_address
from patronauth.presentation.i18n import LANGUAGES, message, translations
from patronauth.services.sessions import close_session, current_session

HTML_LANG = {"en": "en", "zh_Hant": "zh-Hant-HK"}
NO_STORE = {"cache-control": "no-store"}


def _environment(language: str) -> Environment:
    env = Environment(
        loader=ChoiceLoader(
            [
                PackageLoader("patronauth.signon", "templates"),
                PackageLoader("patronauth.web", "templates"),
            ]
        ),
        autoescape=True,
        undefined=StrictUndefined,
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.policies["ext.i18n.trimmed"] = True
    env.install_gettext_translations(translations(language), newstyle=True)  # type: ignore[attr-defined]
    env.globals["message"] = lambda code, **params: message(code, language, **params)
    return env


def _origin(uri: str) -> str:
    parts = urlsplit(uri)
    return f"{parts.scheme}://{parts.netloc}"


class Pages:
    def __init__(self, app: App) -> None:
        self.app = app
        secure = app.settings.cookie_secure
        prefix = "__Host-" if secure else ""
        self.session_cookie = f"{prefix}patronauth-session"
        self.language_cookie = f"{prefix}patronauth-language"
        self.templates = {language: _environment(language) for language in LANGUAGES}

    def source(self, request: Request) -> str:
        return client_address(request.scope, trusted_proxies=self.app.settings.trusted_proxies)

    def session(self, request: Request) -> Session | None:
        """The web session the request's cookie names, if it is still open."""
        try:
            return current_session(
                self.app.ports,
                request.cookies.get(self.session_cookie),
                channel=SessionChannel.WEB,
            )
        except Refused:
            return None

    def close_session(self, request: Request) -> None:
        close_session(
            self.app.ports, request.cookies.get(self.session_cookie), channel=SessionChannel.WEB
        )

    def language(self, request: Request) -> str:
        chosen = request.cookies.get(self.language_cookie)
        if chosen in LANGUAGES:
            return chosen
        accept = request.headers.get("accept-language", "").lower()
        return "zh_Hant" if accept.startswith("zh") and "zh-cn" not in accept[:8] else "en"

    def render(
        self,
        request: Request,
        template: str,
        *,
        status: int = 200,
        institution: str | None = None,
        headers: dict[str, str] | None = None,
        **context: Any,
    ) -> HTMLResponse:
        language = self.language(request)
        library = self.app.ports.profiles.all().get(institution or "")
        values = {
            "language": language,
            "html_lang": HTML_LANG[language],
            "library": library,
            "visitor": None,
            "csrf_token": "",
            "here": request.url.path,
            "errors": [],
            **context,
        }
        html = self.templates[language].get_template(template).render(values)
        return HTMLResponse(html, status_code=status, headers={**NO_STORE, **(headers or {})})

    def error(self, request: Request, code: str, status: int, **params: Any) -> HTMLResponse:
        language = self.language(request)
        return self.render(
            request, "sign_on_error.html", status=status, problem=message(code, language, **params)
        )

    def sign_in(self, institution: str, resume: str) -> Response:
        query = urlencode({"next": resume})
        return RedirectResponse(
            f"/{institution}/sign-in?{query}", status_code=303, headers=NO_STORE
        )

    def change_first(self, institution: str, resume: str) -> Response:
        query = urlencode({"next": resume})
        return RedirectResponse(
            f"/{institution}/change-required?{query}", status_code=303, headers=NO_STORE
        )

    def consent(
        self,
        request: Request,
        client: Client,
        patron: Patron,
        scopes: tuple[str, ...],
        fields: dict[str, str],
        signature: str,
    ) -> HTMLResponse:
        action = "/oidc/authorize?" + urlencode(fields)
        return self.render(
            request,
            "consent.html",
            institution=client.institution,
            service=client.name,
            patron_name=patron.name or "",
            scopes=scopes,
            action=action,
            consent=signature,
            # The answer goes to the service: its redirect is part of this form's submission.
            headers={"content-security-policy": self._csp(form_to=fields.get("redirect_uri", ""))},
        )

    def continue_to(self, request: Request, target: str) -> HTMLResponse:
        """A page that moves on to `target` by itself (a new navigation, not a form's)."""
        return self.render(request, "continue.html", target=target)

    def signed_out(self, request: Request, frames: list[str], target: str | None) -> HTMLResponse:
        return self.render(
            request,
            "sign_on_signed_out.html",
            frames=frames,
            target=target,
            headers={"content-security-policy": self._csp(frames=frames)},
        )

    @staticmethod
    def _csp(*, form_to: str = "", frames: list[str] | None = None) -> str:
        forms = " ".join(["'self'", *([_origin(form_to)] if form_to else [])])
        framed = " ".join(sorted({_origin(f) for f in frames or []})) or "'none'"
        return (
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
            f"form-action {forms}; frame-src {framed}; frame-ancestors 'none'; "
            "base-uri 'none'; object-src 'none'"
        )
