"""Reading the fields of a posted form and collecting what is wrong with them.

The checks are the use cases' own (identifier normal form, secret hygiene, e-mail
form), called field by field so that the page can name every wrong field at once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from starlette.requests import Request

from patronauth.domain.errors import InvalidInput, Param, Refused, Violation
from patronauth.domain.identifiers import (
    MAX_EMAIL_LENGTH,
    MAX_IDENTIFIER_LENGTH,
    lockout_key,
    normalise_email,
)
from patronauth.domain.text import has_control_characters
from patronauth.services.authenticate import clean_secret

FORM_KEY = "patronauth.form"  # where the guard leaves the parsed fields in the scope


@dataclass(frozen=True)
class Problem:
    field: str | None  # None: the form as a whole
    violation: Violation


class Form:
    def __init__(self, data: Mapping[str, str] | None = None) -> None:
        self.data: Mapping[str, str] = data or {}
        self.problems: list[Problem] = []

    @classmethod
    def posted(cls, request: Request) -> Form:
        data = request.scope.get(FORM_KEY)
        return cls(data if isinstance(data, dict) else {})

    @property
    def ok(self) -> bool:
        return not self.problems

    def raw(self, name: str) -> str:
        return self.data.get(name, "")

    def echo(self, name: str, limit: int = MAX_EMAIL_LENGTH) -> str:
        """A typed value to show again in its field; never a secret, never junk."""
        value = self.raw(name)
        if len(value) > limit or has_control_characters(value):
            return ""
        return value

    def fail(self, field: str | None, code: str, **params: Param) -> None:
        self.problems.append(Problem(field, Violation(code, params)))

    def refuse(self, field: str | None, refused: Refused, /, **extra: Param) -> None:
        """Every violation of `refused`, on the field it names itself, else on `field`."""
        for violation in refused.violations:
            self.problems.append(
                Problem(
                    violation.field or field,
                    Violation(violation.code, {**violation.params, **extra}),
                )
            )

    def identifier(self, name: str) -> str:
        """A card number as typed, once it has the form of one."""
        raw = self.raw(name)
        try:
            lockout_key(raw)
        except InvalidInput as refused:
            self.refuse(name, refused, max=MAX_IDENTIFIER_LENGTH)
        return raw

    def secret(self, name: str, *, empty: str, **params: Param) -> str:
        """A password or PIN to check against a stored one (S2: size, control characters)."""
        raw = self.raw(name)
        if not raw:
            self.fail(name, empty, **params)
            return raw
        try:
            clean_secret(raw)
        except InvalidInput as refused:
            self.refuse(name, refused)
        return raw

    def filled(self, name: str, *, empty: str, **params: Param) -> str:
        """A new secret: only its presence here; the policy judges the rest."""
        raw = self.raw(name)
        if not raw:
            self.fail(name, empty, **params)
        return raw

    def email(self, name: str) -> str:
        raw = self.raw(name)
        if not raw.strip():
            self.fail(name, "email.empty")
            return raw
        try:
            return normalise_email(raw)
        except InvalidInput as refused:
            self.refuse(name, refused)
        return raw
