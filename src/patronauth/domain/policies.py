"""Credential policies: what a new secret must be (R2, R3, R9, R11, R18, R22, S2, S6).

`check` returns every violation, each with its own stable code of the form
`<kind>.<rule>` (`pin.too_short`, `password.missing_special`,
`pin.trivial.repeated_group`), so that a form can list them all at once.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum

from patronauth.domain.credentials import CredentialKind
from patronauth.domain.errors import Violation
from patronauth.domain.text import has_control_characters, nfc

HARD_MAX_LENGTH = 128  # S2: longer input is refused before any hashing


class Charset(StrEnum):
    ANY = "any"
    DIGITS = "digits"
    ALPHANUMERIC = "alphanumeric"
    ASCII = "ascii"  # HKU (R22): letters A-Z a-z, digits 0-9 and keyboard specials only


class CharClass(StrEnum):
    UPPER = "upper"
    LOWER = "lower"
    LETTER = "letter"
    DIGIT = "digit"
    SPECIAL = "special"


def _is_special(ch: str) -> bool:
    return not ch.isalnum() and not ch.isspace()


_CLASS_TESTS: dict[CharClass, Callable[[str], bool]] = {
    CharClass.UPPER: str.isupper,
    CharClass.LOWER: str.islower,
    CharClass.LETTER: str.isalpha,
    CharClass.DIGIT: str.isdigit,
    CharClass.SPECIAL: _is_special,
}


class ContextKind(StrEnum):
    BARCODE = "barcode"
    NAME = "name"
    PHONE = "phone"
    ID_NUMBER = "id_number"


@dataclass(frozen=True)
class HiddenWord:
    """Personal data kept only as a keyed digest: `matches` tests a candidate substring."""

    length: int
    matches: Callable[[str], bool]


@dataclass(frozen=True)
class SecretContext:
    """What a secret must not contain (S6): clear words and digest-only words."""

    words: Mapping[ContextKind, Sequence[str]] = field(default_factory=dict)
    hidden: Mapping[ContextKind, HiddenWord] = field(default_factory=dict)


MIN_CONTEXT_WORD = 4


@dataclass(frozen=True)
class CredentialPolicy:
    kind: CredentialKind
    min_length: int
    max_length: int
    charset: Charset = Charset.ANY
    require_all: frozenset[CharClass] = frozenset()
    require_categories: int = 0
    categories: tuple[CharClass, ...] = ()
    reject_trivial: bool = False
    blocklists: tuple[str, ...] = ()
    reject_context: bool = True
    effective_from: date | None = None
    effective_until: date | None = None

    def code(self, rule: str) -> str:
        return f"{self.kind.value}.{rule}"


Blocklist = Callable[[str], bool]

_REPEATED_CHAR = re.compile(r"(.)\1\1", re.DOTALL)
_REPEATED_GROUP = re.compile(r"(.{2,4})\1", re.DOTALL)


def trivial_rules(secret: str) -> list[str]:
    """R11: the trivial-PIN rules `secret` breaks, compared case-insensitively.

    A character three or more times in a row is `repeated_char`; a group of two to
    four characters twice or more in a row is `repeated_group` (groups of one repeated
    character are already the first rule).
    """
    folded = secret.casefold()
    rules = []
    if _REPEATED_CHAR.search(folded):
        rules.append("trivial.repeated_char")
    for start in range(len(folded)):
        match = _REPEATED_GROUP.match(folded, start)
        if match and len(set(match.group(1))) > 1:
            rules.append("trivial.repeated_group")
            break
    return rules


def _charset_violation(secret: str, policy: CredentialPolicy) -> str | None:
    if policy.charset is Charset.DIGITS and not (secret.isascii() and secret.isdigit()):
        return "not_digits"
    if policy.charset is Charset.ALPHANUMERIC and not (secret.isascii() and secret.isalnum()):
        return "not_alphanumeric"
    if policy.charset is Charset.ASCII and not all(" " <= ch <= "~" for ch in secret):
        return "not_ascii"
    return None


def _context_violations(secret: str, context: SecretContext) -> list[str]:
    folded = secret.casefold()
    found = []
    for kind, words in context.words.items():
        if any(len(w) >= MIN_CONTEXT_WORD and w.casefold() in folded for w in words):
            found.append(f"contains_{kind.value}")
    for kind, hidden in context.hidden.items():
        if hidden.length >= MIN_CONTEXT_WORD and any(
            hidden.matches(secret[i : i + hidden.length])
            for i in range(len(secret) - hidden.length + 1)
        ):
            found.append(f"contains_{kind.value}")
    return found


def check(
    secret: str,
    policy: CredentialPolicy,
    *,
    context: SecretContext | None = None,
    blocklists: Mapping[str, Blocklist] | None = None,
) -> list[Violation]:
    """Every rule of `policy` that `secret` (already NFC) breaks."""
    code = policy.code
    if not secret:
        return [Violation(code("empty"))]
    if has_control_characters(secret):
        return [Violation(code("control_character"))]
    length = len(secret)
    if length > HARD_MAX_LENGTH or length > policy.max_length:
        return [Violation(code("too_long"), {"max": policy.max_length})]
    violations: list[Violation] = []
    if length < policy.min_length:
        violations.append(Violation(code("too_short"), {"min": policy.min_length}))
    charset = _charset_violation(secret, policy)
    if charset:
        violations.append(Violation(code(charset)))
    for cls in sorted(policy.require_all):
        if not any(_CLASS_TESTS[cls](ch) for ch in secret):
            violations.append(Violation(code(f"missing_{cls.value}")))
    if policy.require_categories:
        present = sum(any(_CLASS_TESTS[c](ch) for ch in secret) for c in policy.categories)
        if present < policy.require_categories:
            violations.append(
                Violation(
                    code("too_few_categories"),
                    {"need": policy.require_categories, "of": len(policy.categories)},
                )
            )
    if policy.reject_trivial:
        violations.extend(Violation(code(rule)) for rule in trivial_rules(secret))
    for name in policy.blocklists:
        listed = (blocklists or {}).get(name)
        if listed is not None and listed(secret):
            violations.append(Violation(code("common")))
            break
    if policy.reject_context and context is not None:
        violations.extend(Violation(code(rule)) for rule in _context_violations(secret, context))
    return violations


def normalise_secret(raw: str) -> str:
    """S2: secrets are compared in NFC and never truncated."""
    return nfc(raw)
