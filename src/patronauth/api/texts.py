"""The texts of API answers, in English or Traditional Chinese, from the catalogue."""

from __future__ import annotations

from patronauth.api.schemas import ViolationOut
from patronauth.domain.errors import Param, Violation
from patronauth.presentation import i18n

ECHO_LIMIT = 40


def text(code: str, language: str, **params: Param) -> str:
    return i18n.message(code, language, **params)


def rendered(violation: Violation, language: str) -> ViolationOut:
    """A refusal's message. Its values may repeat what was typed: made printable."""
    params = {
        k: i18n.printable(v) if isinstance(v, str) else v for k, v in violation.params.items()
    }
    return ViolationOut(code=violation.code, message=text(violation.code, language, **params))
