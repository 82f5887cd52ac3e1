"""Registry feeds as CSV (docs/registry-feed.md): one patron per line, header first.

Every problem is reported against its line and the other lines still land: bad UTF-8,
NUL bytes, a wrong number of fields, unparsable values. Only a bad header refuses the
whole file.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Iterator
from datetime import date
from functools import lru_cache, partial
from itertools import islice

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


# Rows of a batch share these objects (a date, the set of fields given) instead of
# holding equal copies, so that a batch sent to a worker and back pickles each one
# once (P3).
_GIVEN: dict[frozenset[str], frozenset[str]] = {}  # at most 2 ** len(COLUMNS) entries


@lru_cache(maxsize=4096)
def _date(value: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidInput.of("date.invalid") from None


def _given(values: dict[str, str]) -> frozenset[str]:
    given = frozenset(name for name, value in values.items() if value)
    return _GIVEN.setdefault(given, given)


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


Lines = list[tuple[int, bytes]]


class Feed:
    """The rows after the header: (line number, registration or refusal) when iterated.

    `raw_batches` hands the lines over unread instead, with `parser` to parse them
    elsewhere (in the import's worker processes); either way the header is read and
    checked first, and a bad header refuses the whole file.
    """

    def __init__(self, lines: Iterable[bytes], institution: str) -> None:
        self._lines = iter(lines)
        self._institution = institution
        self._header: list[str] | None = None
        self._numbered: Iterator[tuple[int, bytes]] | None = None

    def _read_header(self) -> tuple[list[str], Iterator[tuple[int, bytes]]]:
        if self._header is None or self._numbered is None:
            try:
                first = next(self._lines)
            except StopIteration:
                raise InvalidInput.of("import.empty_file") from None
            self._header = read_header(first)
            self._numbered = enumerate(self._lines, start=2)
        return self._header, self._numbered

    def __iter__(self) -> Iterator[tuple[int, Registration | Refused]]:
        return self

    def __next__(self) -> tuple[int, Registration | Refused]:
        header, numbered = self._read_header()
        for number, raw in numbered:
            row = _parsed(number, raw, header, self._institution)
            if row is not None:
                return row
        raise StopIteration

    def parser(self) -> Callable[[Lines], list[tuple[int, Registration | Refused]]]:
        header, _ = self._read_header()
        return partial(parse_lines, header, self._institution)

    def layout(self) -> str:
        header, _ = self._read_header()
        return ",".join(header)

    def raw_batches(self, size: int) -> Iterator[Lines]:
        _, numbered = self._read_header()
        while batch := list(islice(numbered, size)):
            yield batch


def parse_rows(lines: Iterable[bytes], institution: str) -> Feed:
    """(line number, registration or refusal) for each line after the header."""
    return Feed(lines, institution)


def parse_lines(
    header: list[str], institution: str, lines: Lines
) -> list[tuple[int, Registration | Refused]]:
    """Parse raw lines read after `header`; blank lines are left out."""
    rows = []
    for number, raw in lines:
        row = _parsed(number, raw, header, institution)
        if row is not None:
            rows.append(row)
    return rows


def _parsed(
    number: int, raw: bytes, header: list[str], institution: str
) -> tuple[int, Registration | Refused] | None:
    text, clean = _decoded(raw)
    text = text.rstrip("\r\n")
    if not text.strip():
        return None
    return number, _row(text, header, institution, clean=clean)


def _decoded(raw: bytes) -> tuple[str, bool]:
    """The text of a line, and whether it is known to be clean UTF-8 without NUL.

    Strict decoding is the fast path for the usual line; it never yields a surrogate,
    so only lines that fail it need the character-by-character checks of `_row`.
    """
    if b"\0" not in raw:
        try:
            return raw.decode("utf-8"), True
        except UnicodeDecodeError:
            pass
    return _text(raw), False


def _fields(text: str) -> list[str]:
    # Without quotes or carriage returns the csv module splits at the commas; it is
    # only needed for the rest.
    if '"' not in text and "\r" not in text:
        return text.split(",")
    return next(csv.reader([text]))


def _row(text: str, header: list[str], institution: str, *, clean: bool) -> Registration | Refused:
    if not clean:
        if _NUL in text:
            return InvalidInput.of("import.nul_byte")
        if any("\udc80" <= ch <= "\udcff" for ch in text):
            return InvalidInput.of("import.not_utf8")
    try:
        fields = _fields(text)
    except csv.Error:
        # The csv module refuses a field longer than its limit before we can measure it.
        if len(text) > csv.field_size_limit():
            return InvalidInput.of("import.field_too_long", max=MAX_FIELD)
        return InvalidInput.of("import.row_shape", found=0, expected=len(header))
    if len(fields) != len(header):
        return InvalidInput.of("import.row_shape", found=len(fields), expected=len(header))
    values = dict(zip(header, [f.strip() for f in fields], strict=True))
    if max(map(len, values.values())) > MAX_FIELD:
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
            given=_given(values),
        )
    except Refused as refusal:
        return refusal
