"""Registry feeds as CSV (docs/registry-feed.md): one patron per line, header first.

Every problem is reported against its line and the other lines still land: bad UTF-8,
NUL bytes, a wrong number of fields, unparsable values. Only a bad header refuses the
whole file.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from datetime import date

from patronauth.domain.errors import InvalidInput, Refused
from patronauth.domain.identifiers import IdType
from patronauth.services.registration import Registration

COLUMNS = (
    "barcode",
    "category",
    "name",
    "email",
    "phone",
    "id_number",
    "id_type",
    "student_number",
    "staff_number",
    "registered_on",
    "status",
    "language",
)
REQUIRED = ("barcode",)
MAX_FIELD = 1000
_NUL = "\udc00"  # never produced by the surrogateescape decoding of real bytes


def _text(raw: bytes) -> str:
    return _NUL.join(part.decode("utf-8", "surrogateescape") for part in raw.split(b"\0"))


def _date(value: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidInput.of("date.invalid") from None


def _status(value: str) -> bool:
    lowered = value.lower()
    if lowered in {"", "active"}:
        return False
    if lowered in {"pending", "pending_registration"}:
        return True
    raise InvalidInput.of("status.invalid")


def _id_type(value: str) -> IdType | None:
    if not value:
        return None
    try:
        return IdType(value.lower())
    except ValueError:
        raise InvalidInput.of("id_type.invalid") from None


def read_header(first_line: bytes) -> list[str]:
    text = _text(first_line).lstrip("\ufeff").rstrip("\r\n")
    if not text.strip():
        raise InvalidInput.of("import.empty_file")
    if _NUL in text or any("\udc80" <= ch <= "\udcff" for ch in text):
        raise InvalidInput.of("import.not_utf8")
    header = [name.strip().lower() for name in next(csv.reader([text]))]
    for name in header:
        if name not in COLUMNS:
            raise InvalidInput.of("import.unknown_column", column=name, known=", ".join(COLUMNS))
    for name in REQUIRED:
        if name not in header:
            raise InvalidInput.of("import.missing_column", column=name)
    return header


def parse_rows(
    lines: Iterable[bytes], institution: str
) -> Iterator[tuple[int, Registration | Refused]]:
    """(line number, registration or refusal) for each line after the header."""
    iterator = iter(lines)
    try:
        first = next(iterator)
    except StopIteration:
        raise InvalidInput.of("import.empty_file") from None
    header = read_header(first)
    for number, raw in enumerate(iterator, start=2):
        text = _text(raw).rstrip("\r\n")
        if not text.strip():
            continue
        yield number, _row(text, header, institution)


def _row(text: str, header: list[str], institution: str) -> Registration | Refused:
    if _NUL in text:
        return InvalidInput.of("import.nul_byte")
    if any("\udc80" <= ch <= "\udcff" for ch in text):
        return InvalidInput.of("import.not_utf8")
    try:
        fields = next(csv.reader([text]))
    except csv.Error:
        return InvalidInput.of("import.row_shape", found=0, expected=len(header))
    if len(fields) != len(header):
        return InvalidInput.of("import.row_shape", found=len(fields), expected=len(header))
    values = dict(zip(header, (f.strip() for f in fields), strict=True))
    if any(len(v) > MAX_FIELD for v in values.values()):
        return InvalidInput.of("import.field_too_long", max=MAX_FIELD)
    try:
        return Registration(
            institution=institution,
            barcode=values.get("barcode", ""),
            category=values.get("category") or None,
            name=values.get("name") or None,
            phone=values.get("phone") or None,
            email=values.get("email") or None,
            id_number=values.get("id_number") or None,
            id_type=_id_type(values.get("id_type", "")),
            student_number=values.get("student_number") or None,
            staff_number=values.get("staff_number") or None,
            registered_on=_date(values.get("registered_on", "")),
            pending=_status(values.get("status", "")),
            language=values.get("language") or "en",
        )
    except Refused as refusal:
        return refusal
