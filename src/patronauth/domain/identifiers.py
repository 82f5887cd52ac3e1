"""What patrons type or scan, and the identity documents behind default credentials.

Identifiers are compared in one normal form: NFKC, no white space, upper case, and
(where the institution says so) no leading zeros. The lockout key of an attempt is
derived from the typed text alone, whether or not any patron has it (S3).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from enum import StrEnum

from patronauth.domain.errors import InvalidInput
from patronauth.domain.text import compact_upper, has_control_characters

MAX_IDENTIFIER_LENGTH = 64
_IDENTIFIER_CHARS = re.compile(r"[A-Z0-9._@-]+")


class IdentifierKind(StrEnum):
    BARCODE = "barcode"
    STUDENT_NUMBER = "student_number"
    STAFF_NUMBER = "staff_number"
    JULAC = "julac"
    CAMPUS_UID = "campus_uid"


class IdentifierStatus(StrEnum):
    CURRENT = "current"
    REPLACED = "replaced"


@dataclass(frozen=True)
class IdentifierRule:
    """The per-institution part of normalisation."""

    strip_leading_zeros: bool = False
    student_number_digits: int = 0  # HKCT (R16): eight digits; 0: any letters and digits


def base_form(raw: str) -> str:
    """The deployment-wide form: checked for bad characters, compacted, upper case."""
    if has_control_characters(raw):
        raise InvalidInput.of("identifier.invalid_characters")
    text = compact_upper(raw)
    if not text:
        raise InvalidInput.of("identifier.empty")
    if len(text) > MAX_IDENTIFIER_LENGTH:
        raise InvalidInput.of("identifier.too_long", max=MAX_IDENTIFIER_LENGTH)
    if not _IDENTIFIER_CHARS.fullmatch(text):
        raise InvalidInput.of("identifier.invalid_characters")
    return text


def _without_leading_zeros(text: str) -> str:
    stripped = text.lstrip("0")
    return stripped or "0"


def normalise(raw: str, rule: IdentifierRule) -> str:
    """The stored form of an identifier of an institution with this rule."""
    text = base_form(raw)
    return _without_leading_zeros(text) if rule.strip_leading_zeros else text


def lockout_key(raw: str) -> str:
    """The key attempts are counted under: case, spaces and leading zeros count as one."""
    return _without_leading_zeros(base_form(raw))


# --- JULAC cards (R21) -------------------------------------------------------------

JULAC_UNIVERSITIES: dict[str, str] = {
    "CITYU": "City University of Hong Kong",
    "BU": "Hong Kong Baptist University",
    "UST": "Hong Kong University of Science and Technology",
    "LU": "Lingnan University",
    "CU": "The Chinese University of Hong Kong",
    "EDU": "The Education University of Hong Kong",
    "PU": "The Hong Kong Polytechnic University",
}
_JULAC_NUMBER = re.compile(r"[0-9][0-9A-Z]{3,11}")


@dataclass(frozen=True)
class JulacCard:
    prefix: str
    number: str

    @property
    def university(self) -> str:
        return JULAC_UNIVERSITIES[self.prefix]

    @property
    def card_number(self) -> str:
        return self.prefix + self.number


def parse_julac(raw: str) -> JulacCard:
    """`CU1234567` -> CU + 1234567. The longest matching prefix wins (CITYU before CU)."""
    text = base_form(raw)
    for prefix in sorted(JULAC_UNIVERSITIES, key=len, reverse=True):
        if text.startswith(prefix):
            number = text[len(prefix) :]
            if not number:
                raise InvalidInput.of("julac.missing_number", prefix=prefix)
            if not _JULAC_NUMBER.fullmatch(number):
                raise InvalidInput.of("julac.invalid_number", prefix=prefix)
            return JulacCard(prefix, number)
    raise InvalidInput.of("julac.unknown_prefix", prefixes=", ".join(JULAC_UNIVERSITIES))


# --- Identity documents (R10, R16; stored minimally, S9) ---------------------------


class IdType(StrEnum):
    HKID = "hkid"
    PASSPORT = "passport"
    MAINLAND = "mainland"


# The check digit may stand in brackets, but only in a matching pair.
_HKID = re.compile(r"([A-Z]{1,2})([0-9]{6})(\()?([0-9A])(?(3)\))")
_HKID_SHAPE = re.compile(r"[A-Z]{1,2}[0-9]{6}\(?[0-9A-Z]?\)?")
_PASSPORT = re.compile(r"(?=.*[0-9])[A-Z0-9]{5,20}")
_MAINLAND = re.compile(r"[0-9]{17}[0-9X]")
_MAINLAND_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


@dataclass(frozen=True)
class IdDocument:
    """A validated identity document number in its compact form (HKID without brackets)."""

    type: IdType
    number: str

    @property
    def masked(self) -> str:
        """Shown to staff and patrons: two characters, never enough to rebuild a default."""
        return self.number[:2] + "*" * (len(self.number) - 2)


def hkid_check_digit(letters: str, digits: str) -> str:
    values = [36] if len(letters) == 1 else []
    values += [ord(ch) - ord("A") + 10 for ch in letters]
    values += [int(d) for d in digits]
    total = sum(v * w for v, w in zip(values, range(9, 1, -1), strict=True))
    check = (11 - total % 11) % 11
    return "A" if check == 10 else str(check)


def parse_hkid(raw: str) -> IdDocument:
    text = compact_upper(raw)
    match = _HKID.fullmatch(text)
    if not match:
        raise InvalidInput.of("hkid.invalid_format")
    letters, digits, _, check = match.groups()
    if hkid_check_digit(letters, digits) != check:
        raise InvalidInput.of("hkid.check_digit")
    return IdDocument(IdType.HKID, letters + digits + check)


def parse_mainland_id(raw: str) -> IdDocument:
    text = compact_upper(raw)
    if not _MAINLAND.fullmatch(text):
        raise InvalidInput.of("mainland_id.invalid_format")
    total = sum(int(d) * w for d, w in zip(text[:17], _MAINLAND_WEIGHTS, strict=True))
    if "10X98765432"[total % 11] != text[17]:
        raise InvalidInput.of("mainland_id.check_digit")
    return IdDocument(IdType.MAINLAND, text)


def parse_passport(raw: str) -> IdDocument:
    text = compact_upper(raw)
    if not _PASSPORT.fullmatch(text):
        raise InvalidInput.of("passport.invalid_format")
    return IdDocument(IdType.PASSPORT, text)


_ID_TEXT = re.compile(r"[A-Z0-9()]{5,24}")


def id_number_text(raw: str) -> str:
    """An ID number's shape only (letters, digits, brackets), its check digit unchecked."""
    text = compact_upper(raw)
    if has_control_characters(raw) or not _ID_TEXT.fullmatch(text):
        raise InvalidInput.of("id_number.invalid")
    return text


def guess_id_type(raw: str) -> IdType:
    """The type a registry most likely meant when it gave none."""
    text = compact_upper(raw)
    if _HKID_SHAPE.fullmatch(text):
        return IdType.HKID
    if len(text) == 18 and text[:17].isdigit():
        return IdType.MAINLAND
    return IdType.PASSPORT


def parse_id_document(raw: str, id_type: IdType | None = None) -> IdDocument:
    if has_control_characters(raw):
        raise InvalidInput.of("id_number.invalid_characters")
    kind = id_type or guess_id_type(raw)
    parser = {
        IdType.HKID: parse_hkid,
        IdType.MAINLAND: parse_mainland_id,
        IdType.PASSPORT: parse_passport,
    }[kind]
    return parser(raw)


# --- Contact data -------------------------------------------------------------------

_PHONE = re.compile(r"\+?[0-9(][0-9 ()-]{6,24}")
HONG_KONG_CODE = "852"
_EMAIL = re.compile(r"[^@\s]{1,64}@[^@\s]+\.[^@\s]+")
MAX_EMAIL_LENGTH = 254


def normalise_phone(raw: str) -> str:
    """Digits only (`9123 4567` -> `91234567`), 8 to 15 of them.

    Hong Kong's country code is dropped (`+852 9123 4567` -> `91234567`) so that a
    number is one number however it was written.
    """
    if has_control_characters(raw):
        raise InvalidInput.of("phone.invalid")
    text = unicodedata.normalize("NFKC", raw).strip()
    digits = "".join(ch for ch in text if ch.isdigit())
    if not _PHONE.fullmatch(text) or not 8 <= len(digits) <= 15 or not digits.isascii():
        raise InvalidInput.of("phone.invalid")
    if len(digits) == 11 and digits.startswith(HONG_KONG_CODE):
        return digits[3:]
    return digits


MAX_NAME_LENGTH = 200
_NAME_PUNCTUATION = frozenset(" '’.,-()·")
# The ASCII names: their letters are A-Z and a-z (no other ASCII character is a letter
# or a mark), so a pattern answers for them without a Unicode lookup per character.
_ASCII_NAME = re.compile(r"[A-Za-z '.,()-]+")


def normalise_name(raw: str) -> str:
    """A personal name in NFC with single spaces: letters (any script), combining marks
    and the punctuation names use (O'Brien, Chan Tai-man, 陳大文). Markup, quotes,
    semicolons and the like are refused: they are never part of a name (SPEC 7)."""
    name = " ".join(unicodedata.normalize("NFC", raw).split())
    if (
        not name
        or len(name) > MAX_NAME_LENGTH
        or has_control_characters(raw)
        or not (
            _ASCII_NAME.fullmatch(name)
            if name.isascii()
            else all(
                ch in _NAME_PUNCTUATION or unicodedata.category(ch)[0] in {"L", "M"} for ch in name
            )
        )
    ):
        raise InvalidInput.of("name.invalid", max=MAX_NAME_LENGTH)
    return name


def mask_card(barcode: str) -> str:
    """A card number as an e-mail names it: its first two and last two characters."""
    if len(barcode) <= 4:
        return "*" * (len(barcode) - 2) + barcode[-2:]
    return barcode[:2] + "*" * (len(barcode) - 4) + barcode[-2:]


def mask_phone(digits: str) -> str:
    """Only the first two digits stay: the last four are HKPL's default (S9)."""
    return digits[:2] + "*" * (len(digits) - 2)


def normalise_email(raw: str) -> str:
    text = raw.strip()
    if (
        has_control_characters(text)
        or len(text) > MAX_EMAIL_LENGTH
        or not _EMAIL.fullmatch(text)
        or any(ch in text for ch in "<>\"',;\\")
    ):
        raise InvalidInput.of("email.invalid")
    # Stored and compared in lower case: no mail system of a patron tells case apart.
    return text.lower()
