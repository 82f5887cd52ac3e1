"""Default credentials derived from registration data (R4, R10, R16, R23).

Rules work on the text as the seeds show it: PolyU's `Z123456(7)` gives `Z12345`
whether or not its check digit is right (registration checks that separately).
Which rule applies is decided by the patron's registration date.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from patronauth.domain.errors import Refused
from patronauth.domain.identifiers import IdType, guess_id_type
from patronauth.domain.text import compact_upper


class DefaultRuleKind(StrEnum):
    NONE = "none"  # first-time users set the secret up themselves (R23)
    PHONE_LAST_DIGITS = "phone_last_digits"  # HKPL (R4)
    ID_PREFIX = "id_prefix"  # PolyU: first N alphanumerics of the ID number (R10)
    HKID_LETTER_DIGITS = "hkid_letter_digits"  # HKCT until 2018-07-31 (R16)
    STUDENT_NUMBER = "student_number"  # HKCT from 2018-08-01 (R16)
    STAFF_NUMBER = "staff_number"  # HKCT staff from 2018-08-01 (R16)


@dataclass(frozen=True)
class DefaultRule:
    kind: DefaultRuleKind
    length: int = 0
    # Effective by the patron's registration date.
    effective_from: date | None = None
    effective_until: date | None = None


@dataclass(frozen=True)
class RegistrationData:
    """The registration facts a default may be derived from (never stored in clear)."""

    phone: str | None = None  # digits only
    id_number: str | None = None  # as entered, e.g. `Z123456(7)`
    student_number: str | None = None
    staff_number: str | None = None
    id_type: IdType | None = None  # None: guessed from the number's shape


_HKID_LETTER_DIGITS = re.compile(r"[A-Z]{0,1}([A-Z][0-9]{5})")


def derive(rule: DefaultRule, data: RegistrationData) -> str | None:
    """The default secret, or None where the rule gives none. Refuses on missing data."""
    kind = rule.kind
    if kind is DefaultRuleKind.NONE:
        return None
    if kind is DefaultRuleKind.PHONE_LAST_DIGITS:
        digits = data.phone or ""
        if not digits.isdigit():
            digits = "".join(ch for ch in digits if ch.isdigit())
        if not digits:
            # HKPL: a patron without a phone is registered without a default and sets
            # the secret up by e-mail, or is given a temporary one at the counter.
            return None
        if len(digits) < rule.length:
            raise Refused.of("default.missing_phone")
        return digits[-rule.length :]
    if kind is DefaultRuleKind.ID_PREFIX:
        alnum = "".join(ch for ch in compact_upper(data.id_number or "") if ch.isalnum())
        if len(alnum) < rule.length:
            raise Refused.of("default.missing_id_number")
        return alnum[: rule.length]
    if kind is DefaultRuleKind.HKID_LETTER_DIGITS:
        if not data.id_number:
            raise Refused.of("default.missing_hkid")
        if (data.id_type or guess_id_type(data.id_number)) is not IdType.HKID:
            # HKCT: the rule is the HKID's; a passport or mainland ID gives no default,
            # and staff give a temporary password at the counter instead.
            return None
        match = _HKID_LETTER_DIGITS.match(compact_upper(data.id_number))
        if not match:
            raise Refused.of("default.missing_hkid")
        return match.group(1)
    if kind is DefaultRuleKind.STUDENT_NUMBER:
        student_number = compact_upper(data.student_number or "")
        if not student_number:
            raise Refused.of("default.missing_student_number")
        return student_number
    staff_number = compact_upper(data.staff_number or "")
    if not staff_number:
        raise Refused.of("default.missing_staff_number")
    return staff_number


def as_default(typed: str) -> str:
    """A secret typed against a default, in the default's form: every rule derives its
    default in capitals (`Z12345`, `A12345`), so the letters of a default may be typed
    in either case; nothing else about the typing changes."""
    return typed.upper()
