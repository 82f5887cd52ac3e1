"""What every page shares: the templates of each language, the cookies, the libraries."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_time, get_datetime_format
from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup, escape
from starlette.responses import Response

from patronauth.bootstrap import App
from patronauth.domain.profile import Profile
from patronauth.presentation.i18n import DEFAULT_LANGUAGE, LANGUAGES, message, translations

# BCP 47 tags for the `lang` attribute, and Babel locales for dates.
HTML_LANG = {"en": "en", "zh_Hant": "zh-Hant-HK"}
LOCALES = {"en": "en_GB", "zh_Hant": "zh_Hant_HK"}
LANGUAGE_COOKIE_SECONDS = 365 * 24 * 3600


def _upper_first(text: str) -> str:
    """ "online password" -> "Online password", and "PIN" stays "PIN"."""
    return text[:1].upper() + text[1:]


def money(cents: int, currency: str) -> str:
    """An amount in cents in the library's currency: 1250, "HK$" -> "HK$12.50"."""
    sign = "-" if cents < 0 else ""
    whole, part = divmod(abs(cents), 100)
    return f"{sign}{currency}{whole:,}.{part:02d}"


def unbroken(text: str) -> Markup:
    """A date or a time as one unit that a line never breaks inside ("2026年11月30日")."""
    return Markup('<span class="unbroken">{}</span>').format(text)


def when_text(local: datetime, language: str) -> Markup:
    """The date and the time without seconds, each unbroken, in the locale's order."""
    locale = LOCALES.get(language, "en_GB")
    day = unbroken(format_date(local, "medium", locale=locale))
    time = unbroken(format_time(local, "short", locale=locale))
    return escape(get_datetime_format("medium", locale=locale)).format(time, day)


def environment(language: str) -> Environment:
    """One environment per language, so that no request swaps another's translations."""
    env = Environment(
        loader=PackageLoader("patronauth.web", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    # The same options as the extraction (babel.cfg), so the message ids agree.
    env.policies["ext.i18n.trimmed"] = True
    env.install_gettext_translations(translations(language), newstyle=True)  # type: ignore[attr-defined]
    env.filters["upper_first"] = _upper_first
    env.filters["money"] = money
    env.globals["message"] = lambda code, **params: message(code, language, **params)
    return env


class Site:
    """The web pages' share of the application, built once per process."""

    def __init__(self, app: App) -> None:
        self.app = app
        self.ports = app.ports
        self.settings = app.settings
        self.secure = app.settings.cookie_secure
        # `__Host-` cookies are refused by browsers unless Secure, path / and host-only.
        prefix = "__Host-" if self.secure else ""
        self.session_cookie = f"{prefix}patronauth-session"
        self.language_cookie = f"{prefix}patronauth-language"
        self.csrf_cookie = f"{prefix}patronauth-csrf"
        self.templates = {language: environment(language) for language in LANGUAGES}
        for env in self.templates.values():
            env.filters["when"] = self._when
            env.filters["day"] = self._day

    @property
    def libraries(self) -> Mapping[str, Profile]:
        return self.ports.profiles.all()

    def language_of(self, cookies: Mapping[str, str], accept: str | None) -> str:
        """The language chosen on the page (a cookie), else the browser's, else English."""
        chosen = cookies.get(self.language_cookie)
        if chosen in LANGUAGES:
            return chosen
        return from_accept_language(accept or "")

    def _when(self, moment: datetime, language: str, timezone: str = "Asia/Hong_Kong") -> Markup:
        """A moment in the library's time zone, to the minute: "2 Dec 2026, 14:05"."""
        return when_text(moment.astimezone(ZoneInfo(timezone)), language)

    def _day(self, day: date, language: str) -> Markup:
        return unbroken(format_date(day, "long", locale=LOCALES.get(language, "en_GB")))

    def set_session(self, response: Response, token: str) -> None:
        # No Max-Age: the cookie ends with the browser; the server ends the session
        # after the idle and absolute timeouts in any case.
        response.set_cookie(
            self.session_cookie,
            token,
            path="/",
            secure=self.secure,
            httponly=True,
            samesite="lax",
        )

    def end_session(self, response: Response) -> None:
        response.delete_cookie(
            self.session_cookie, path="/", secure=self.secure, httponly=True, samesite="lax"
        )

    def set_language(self, response: Response, language: str) -> None:
        response.set_cookie(
            self.language_cookie,
            language,
            max_age=LANGUAGE_COOKIE_SECONDS,
            path="/",
            secure=self.secure,
            httponly=True,
            samesite="lax",
        )


_SIMPLIFIED = ("zh-cn", "zh-sg", "zh-my", "zh-hans")


def from_accept_language(header: str) -> str:
    """The first language of an Accept-Language header the pages speak.

    Chinese counts as Traditional Chinese, except where the browser prefers Simplified.
    """
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate(header.split(",")[:20]):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                continue
        ranked.append((-quality, position, tag.strip().lower()))
    simplified_first = False
    for negative_quality, _, tag in sorted(ranked):
        if negative_quality >= 0:
            continue
        if tag == "en" or tag.startswith("en-"):
            return "en"
        if tag.startswith(_SIMPLIFIED):
            simplified_first = True
        elif tag.startswith("zh-") or (tag == "zh" and not simplified_first):
            return "zh_Hant"
    return DEFAULT_LANGUAGE
