"""From the dialogue's message keys to the words spoken, in the call's language."""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date
from functools import cache
from importlib import resources

from babel.dates import format_date
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

from patronauth.telephone.dialogue import Param, Say
from patronauth.telephone.prompts import PROMPTS

LANGUAGES = ("yue", "cmn", "en")
_DATES = {"yue": "yue_Hant_HK", "cmn": "zh_Hans_CN", "en": "en_GB"}
_OTHER_REFUSAL = "renewal.refused"  # a reason code the line has no words for yet


@dataclass(frozen=True)
class Spoken:
    language: str  # yue, cmn or en: each platform names them its own way
    text: str


@cache
def catalogue(language: str) -> NullTranslations:
    if language == "en":
        return NullTranslations()
    po = resources.files(__package__).joinpath(f"locales/{language}/LC_MESSAGES/telephone.po")
    with po.open("rb") as handle:
        catalog = read_po(handle)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return Translations(compiled, domain="telephone")


def _value(value: Param, language: str) -> str:
    if isinstance(value, date):
        return format_date(value, "long", locale=_DATES[language])
    return str(value)


def text(key: str, language: str, params: dict[str, Param] | None = None) -> str:
    template = PROMPTS.get(key) or PROMPTS[_OTHER_REFUSAL]
    values = {k: _value(v, language) for k, v in (params or {}).items()}
    return catalogue(language).gettext(template).format(**values)


def speak(said: tuple[Say, ...], language: str) -> tuple[Spoken, ...]:
    """What to say, one piece per language run (the platforms switch voices by piece)."""
    pieces: list[Spoken] = []
    for say in said:
        lang = say.language or language
        words = text(say.key, lang, dict(say.params))
        if pieces and pieces[-1].language == lang:
            joiner = " " if lang == "en" else ""
            pieces[-1] = Spoken(lang, pieces[-1].text + joiner + words)
        else:
            pieces.append(Spoken(lang, words))
    return tuple(pieces)
