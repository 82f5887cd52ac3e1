"""Messages in English and Traditional Chinese from Babel catalogues.

The English text is the gettext message id (in `messages.py`); the `.po` files of
`locales/` are compiled in memory when first needed, so nothing generated is kept
in the repository.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from functools import cache
from importlib import resources

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

from patronauth.domain.errors import Param, Violation
from patronauth.domain.profile import Profile
from patronauth.domain.text import has_control_characters
from patronauth.presentation.i18n.messages import (
    ANY_CREDENTIAL,
    CREDENTIAL_NAMES,
    MESSAGES,
    NOTICES,
    PLURALS,
)

LANGUAGES = ("en", "zh_Hant")
DEFAULT_LANGUAGE = "en"


@cache
def translations(language: str) -> NullTranslations:
    if language not in LANGUAGES or language == DEFAULT_LANGUAGE:
        return NullTranslations()
    po = resources.files(__name__).joinpath(f"locales/{language}/LC_MESSAGES/messages.po")
    with po.open("rb") as handle:
        catalog = read_po(handle, locale=language)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return Translations(compiled, domain="messages")


class _Blank(dict[str, Param]):
    def __missing__(self, key: str) -> str:
        return ""


def gettext(text: str, language: str) -> str:
    return translations(language).gettext(text)


def message(code: str, language: str = DEFAULT_LANGUAGE, **params: Param) -> str:
    """The message for a reason code, translated and filled in (unknown codes show as is)."""
    template = MESSAGES.get(code)
    if template is None:
        return code
    if "{credential}" in template and not params.get("credential"):
        params = {**params, "credential": gettext(ANY_CREDENTIAL, language)}
    if code in PLURALS:
        (singular, plural), count = PLURALS[code]
        number = params.get(count)
        n = number if isinstance(number, int) else 2
        text = translations(language).ngettext(singular, plural, n)
    else:
        text = gettext(template, language)
    return " ".join(text.format_map(_Blank(params)).split())


def render(violation: Violation, language: str = DEFAULT_LANGUAGE, **extra: Param) -> str:
    return message(violation.code, language, **{**violation.params, **extra})


def credential_name(kind: str, language: str = DEFAULT_LANGUAGE) -> str:
    return gettext(CREDENTIAL_NAMES.get(kind, kind), language)


def notice(kind: str, language: str, params: Mapping[str, Param]) -> tuple[str, str]:
    subject, body = NOTICES[kind]
    values = _Blank(params)
    return (
        gettext(subject, language).format_map(values),
        gettext(body, language).format_map(values),
    )


def outcome_params(
    outcome_kind: str | None,
    institution: str | None,
    retry_after: int,
    contact: Mapping[str, str],
    profiles: Mapping[str, Profile],
    language: str,
) -> dict[str, Param]:
    """What the sign-in messages need: the seconds to wait, the library's own word for
    the credential, its contact text. Nothing that tells whether a card exists."""
    profile = profiles.get(institution) if institution else None
    if profile is not None and outcome_kind:
        credential = profile.credential_label(outcome_kind, language)
    else:
        credential = credential_name(outcome_kind, language) if outcome_kind else ""
    return {
        "seconds": retry_after,
        "credential": credential,
        "contact": contact.get(language, ""),
    }


def printable(value: str, limit: int | None = None) -> str:
    """Typed text as a message may repeat it: control characters (and lone surrogates,
    which UTF-8 cannot carry) escaped, and cut at `limit` characters."""
    shown = value if limit is None or len(value) <= limit else value[:limit] + "…"
    return "".join(
        ch.encode("unicode_escape").decode("ascii") if has_control_characters(ch) else ch
        for ch in shown
    )
