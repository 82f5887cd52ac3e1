"""One request at the console: its language, its staff member, rendering, cookies."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from babel.dates import format_datetime
from jinja2 import Environment, PackageLoader, StrictUndefined
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from patronauth.bootstrap import App
from patronauth.domain.errors import Refused, Violation
from patronauth.domain.staff import Action, Stage, may
from patronauth.presentation.http import Scope, client_address
from patronauth.presentation.i18n import DEFAULT_LANGUAGE, LANGUAGES, message, translations
from patronauth.services.interfaces import StaffPorts
from patronauth.services.staffaccounts import Desk, current_staff

HTML_LANG = {"en": "en", "zh_Hant": "zh-Hant-HK"}
LOCALES = {"en": "en_GB", "zh_Hant": "zh_Hant_HK"}
NO_STORE = {"cache-control": "no-store"}
HONG_KONG = ZoneInfo("Asia/Hong_Kong")
ROOT = "/staff"


def _environment(language: str) -> Environment:
    env = Environment(
        loader=PackageLoader("patronauth.console", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.policies["ext.i18n.trimmed"] = True
    env.install_gettext_translations(translations(language), newstyle=True)  # type: ignore[attr-defined]
    env.globals["message"] = lambda code, **params: message(code, language, **params)
    env.filters["when"] = lambda moment: format_datetime(
        moment.astimezone(HONG_KONG), "medium", locale=LOCALES[language]
    )
    return env


class Console:
    """The console's share of the application, built once per process."""

    def __init__(self, app: App, sp: StaffPorts) -> None:
        self.app = app
        self.sp = sp
        self.settings = app.settings
        self.secure = app.settings.cookie_secure
        # Not the patrons' cookie: a patron session never opens the console, nor the
        # reverse (different names, and this one is sent only below /staff).
        self.session_cookie = "patronauth-staff"
        self.csrf_cookie = "patronauth-staff-csrf"
        self.language_cookie = "patronauth-staff-language"
        self.templates = {language: _environment(language) for language in LANGUAGES}

    def language_of(self, cookies: Mapping[str, str], accept: str | None) -> str:
        chosen = cookies.get(self.language_cookie)
        if chosen in LANGUAGES:
            return chosen
        for part in (accept or "").split(","):
            tag = part.split(";")[0].strip().lower()
            if tag.startswith("zh") and tag not in {"zh-cn", "zh-sg", "zh-hans"}:
                return "zh_Hant"
            if tag.startswith("en"):
                return "en"
        return DEFAULT_LANGUAGE

    def render(
        self, language: str, template: str, status: int = 200, **context: Any
    ) -> HTMLResponse:
        values = {
            "language": language,
            "html_lang": HTML_LANG[language],
            "root": ROOT,
            "desk": None,
            "csrf_token": "",
            "errors": [],
            "field_errors": {},
            "Action": Action,
            "may": may,
            **context,
        }
        html = self.templates[language].get_template(template).render(values)
        return HTMLResponse(html, status_code=status, headers=NO_STORE)


def problem_page(console: Console, scope: Scope, problem: str, status: int) -> Response:
    request = Request(scope)
    language = console.language_of(request.cookies, request.headers.get("accept-language"))
    return console.render(language, "problem.html", status=status, problem=problem)


class Page:
    def __init__(self, request: Request) -> None:
        self.request = request
        self.console: Console = request.app.state.console
        self.sp = self.console.sp
        chosen = request.query_params.get("lang")
        self.chosen_language = chosen if chosen in LANGUAGES else None
        self.language = self.chosen_language or self.console.language_of(
            request.cookies, request.headers.get("accept-language")
        )
        self.desk: Desk | None = None
        self.problem: str | None = None

    @property
    def source(self) -> str:
        return client_address(
            self.request.scope, trusted_proxies=self.console.settings.trusted_proxies
        )

    @property
    def token(self) -> str | None:
        return self.request.cookies.get(self.console.session_cookie)

    @property
    def signed_in(self) -> Desk:
        """The staff member of a page that `views.staff_page` let through."""
        assert self.desk is not None
        return self.desk

    def staff(self, stage: Stage = Stage.FULL) -> Desk | None:
        """The signed-in staff member (blocking: call from the thread pool)."""
        try:
            self.desk = current_staff(self.sp, self.token, stage=stage)
        except Refused as refused:
            self.problem = refused.code
            self.desk = None
        return self.desk

    def to_sign_in(self) -> Response:
        notice = self.problem if self.token else None
        url = f"{ROOT}/sign-in" + (f"?{urlencode({'notice': notice})}" if notice else "")
        response = self.redirect(url)
        if self.token:
            self.end_cookie(response)
        return response

    def redirect(self, url: str) -> RedirectResponse:
        return RedirectResponse(url, status_code=303, headers=NO_STORE)

    def set_cookie(self, response: Response, token: str) -> None:
        response.set_cookie(
            self.console.session_cookie,
            token,
            path=ROOT,
            secure=self.console.secure,
            httponly=True,
            samesite="strict",
        )

    def end_cookie(self, response: Response) -> None:
        response.delete_cookie(
            self.console.session_cookie,
            path=ROOT,
            secure=self.console.secure,
            httponly=True,
            samesite="strict",
        )

    def csrf_token(self) -> str:
        get_token = self.request.scope.get("csrftoken")
        return str(get_token()) if callable(get_token) else ""

    def render(
        self,
        template: str,
        *,
        status: int = 200,
        refused: Refused | None = None,
        **context: Any,
    ) -> HTMLResponse:
        violations: tuple[Violation, ...] = refused.violations if refused else ()
        errors = [
            {"field": v.field, "message": message(v.code, self.language, **v.params)}
            for v in violations
        ]
        field_errors: dict[str, list[str]] = {}
        for error in errors:
            if error["field"]:
                field_errors.setdefault(str(error["field"]), []).append(str(error["message"]))
        response = self.console.render(
            self.language,
            template,
            status=status,
            desk=self.desk,
            csrf_token=self.csrf_token(),
            errors=errors,
            field_errors=field_errors,
            here=self.request.url.path,
            **context,
        )
        if self.chosen_language:
            response.set_cookie(
                self.console.language_cookie,
                self.chosen_language,
                max_age=365 * 24 * 3600,
                path=ROOT,
                secure=self.console.secure,
                httponly=True,
                samesite="strict",
            )
        return response


def local(moment: datetime) -> datetime:
    return moment.astimezone(HONG_KONG)
