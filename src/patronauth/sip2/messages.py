"""SIP2 2.00 messages as values: parsing, formatting, checksums and dates. No I/O.

A frame on the wire is
`<2-digit code><fixed fields><ID value|ID value|...>[AY<d>]AZ<hhhh><CR>`. `parse` turns
the decoded text of one frame (terminator removed, checksum already checked) into a
`Message`; `encode` turns a `Message` into the bytes of one frame, with the sequence
number echoed, the checksum computed over the encoded bytes and the terminator.

Parsing is lenient where real terminals differ (variable fields in any order, unknown
ids ignored, no trailing `|` needed); formatting is strict (exact widths, `|` after
every variable field, a 4-digit checksum). Everything that cannot be parsed raises
`ParseError`, and nothing else.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, tzinfo

MAX_VALUE = 255
"""The longest value of one variable field (SIP2 2.00)."""

BLANK_DATE = " " * 18

# Fixed fields of every message PatronAuth reads or writes: (name, width), in order.
FIXED: Mapping[str, tuple[tuple[str, int], ...]] = {
    "93": (("uid_algorithm", 1), ("pwd_algorithm", 1)),
    "94": (("ok", 1),),
    "99": (("status", 1), ("max_print_width", 3), ("protocol_version", 4)),
    "98": (
        ("online", 1),
        ("checkin_ok", 1),
        ("checkout_ok", 1),
        ("renewal_policy", 1),
        ("status_update_ok", 1),
        ("offline_ok", 1),
        ("timeout", 3),
        ("retries", 3),
        ("date", 18),
        ("protocol_version", 4),
    ),
    "23": (("language", 3), ("date", 18)),
    "24": (("patron_status", 14), ("language", 3), ("date", 18)),
    "63": (("language", 3), ("date", 18), ("summary", 10)),
    "64": (
        ("patron_status", 14),
        ("language", 3),
        ("date", 18),
        ("hold_count", 4),
        ("overdue_count", 4),
        ("charged_count", 4),
        ("fine_count", 4),
        ("recall_count", 4),
        ("unavailable_holds_count", 4),
    ),
    "11": (("renewal_policy", 1), ("no_block", 1), ("date", 18), ("nb_due_date", 18)),
    "12": (("ok", 1), ("renewal_ok", 1), ("magnetic_media", 1), ("desensitize", 1), ("date", 18)),
    "09": (("no_block", 1), ("date", 18), ("return_date", 18)),
    "10": (("ok", 1), ("resensitize", 1), ("magnetic_media", 1), ("alert", 1), ("date", 18)),
    "29": (("third_party", 1), ("no_block", 1), ("date", 18), ("nb_due_date", 18)),
    "30": (("ok", 1), ("renewal_ok", 1), ("magnetic_media", 1), ("desensitize", 1), ("date", 18)),
    "65": (("date", 18),),
    "66": (("ok", 1), ("renewed_count", 4), ("unrenewed_count", 4), ("date", 18)),
    "35": (("date", 18),),
    "36": (("end_session", 1), ("date", 18)),
    "17": (("date", 18),),
    "18": (("circulation_status", 2), ("security_marker", 2), ("fee_type", 2), ("date", 18)),
    "37": (("date", 18), ("fee_type", 2), ("payment_type", 2), ("currency_type", 3)),
    "38": (("payment_accepted", 1), ("date", 18)),
    "96": (),
    "97": (),
}

REQUESTS = frozenset({"93", "99", "23", "63", "11", "09", "29", "65", "35", "17", "97"})
"""The requests PatronAuth answers (37 Fee Paid is read but not offered: BX says so)."""

# Values of the fixed fields in `FIXED` must be digits, Y/N/U/blank... according to the
# message, but terminals are sloppy; only widths are enforced when parsing.

_DATE_ONLY = (("date", 18),)
_DATE = re.compile(r"[0-9 ]{8}[0-9A-Z ]{4}[0-9 ]{6}")
_FIELD_START = re.compile(r"[A-Z]{2}[^|]*\|")
_TRAILER = re.compile(r"(?:AY(?P<seq>[0-9]))?AZ(?P<sum>[0-9A-Fa-f]{3,4})\Z")
_SEQUENCE_ONLY = re.compile(r"AY(?P<seq>[0-9])\Z")
_CHECKSUM_BYTES = re.compile(rb"AZ(?P<sum>[0-9A-Fa-f]{3,4})\Z")
_GARBLED_BYTES = re.compile(rb"AZ[^|]{1,8}\Z")
_SEQUENCE_BYTES = re.compile(rb"AY([0-9])\Z")


class ParseError(ValueError):
    """The frame is not a SIP2 message PatronAuth can read."""


@dataclass(frozen=True)
class Message:
    """One SIP2 message: its code, its fixed fields by name and its variable fields.

    `fields` keeps every value of an id in arrival order (some ids repeat: AF, AS, ...).
    """

    code: str
    fixed: Mapping[str, str] = field(default_factory=dict)
    fields: Sequence[tuple[str, str]] = ()

    def get(self, field_id: str, default: str | None = None) -> str | None:
        """The first value of a variable field, or `default` when the field is absent."""
        for key, value in self.fields:
            if key == field_id:
                return value
        return default

    def text(self, field_id: str) -> str:
        """The first value of a variable field, or "" when absent."""
        return self.get(field_id) or ""

    def all(self, field_id: str) -> list[str]:
        return [value for key, value in self.fields if key == field_id]

    def has(self, field_id: str) -> bool:
        return any(key == field_id for key, _ in self.fields)


def message(code: str, fixed: Mapping[str, str], *fields: tuple[str, str | None]) -> Message:
    """A message to send; fields whose value is None are left out."""
    return Message(code, dict(fixed), tuple((k, v) for k, v in fields if v is not None))


# -- checksums ---------------------------------------------------------------------------


def checksum(data: bytes) -> str:
    """The AZ value of `data` (the frame up to and including the letters `AZ`)."""
    return f"{(-sum(data)) & 0xFFFF:04X}"


def checksum_ok(total: int, value: int) -> bool:
    return (total + value) & 0xFFFF == 0


@dataclass(frozen=True)
class Trailer:
    """What the error-detection trailer of a received frame said."""

    sequence: str | None
    had_checksum: bool
    valid: bool
    lenient: str | None = None
    """Why a checksum was accepted only by leniency ("3-digit", "code points"), if so."""


def check_frame(frame: bytes, encoding: str) -> Trailer:
    """Check the AY/AZ trailer of one frame (without terminator) against its bytes.

    Accepted: a correct 4-digit checksum; a 3-digit one (a client that forgot the
    zero padding); a sum of code points instead of encoded bytes; no checksum at all.
    A garbled trailer (`AZ` after the last field, not followed by hex digits) is a bad
    checksum.
    """
    found = _CHECKSUM_BYTES.search(frame)
    if found is None:
        if _GARBLED_BYTES.search(frame):
            return Trailer(None, had_checksum=True, valid=False)
        return Trailer(_sequence(_SEQUENCE_BYTES.search(frame)), had_checksum=False, valid=True)
    head = frame[: found.start() + 2]
    digits = found["sum"]
    sequence = _sequence(re.search(rb"AY([0-9])AZ\Z", head))
    value = int(digits, 16)
    if checksum_ok(sum(head), value):
        lenient = "3-digit" if len(digits) == 3 else None
        return Trailer(sequence, had_checksum=True, valid=True, lenient=lenient)
    try:
        points = sum(ord(c) for c in head.decode(encoding))
    except UnicodeDecodeError:
        return Trailer(sequence, had_checksum=True, valid=False)
    if checksum_ok(points, value):
        return Trailer(sequence, had_checksum=True, valid=True, lenient="code points")
    return Trailer(sequence, had_checksum=True, valid=False)


def _sequence(match: re.Match[bytes] | None) -> str | None:
    return match[1].decode("ascii") if match else None


# -- parsing -----------------------------------------------------------------------------


def strip_trailer(text: str) -> str:
    """The frame text without its `AY<d>AZ<hhhh>` (or `AY<d>`) error-detection trailer."""
    match = _TRAILER.search(text) or _SEQUENCE_ONLY.search(text)
    return text[: match.start()] if match else text


def parse(text: str) -> Message:
    """Parse the decoded text of one frame (no terminator) into a Message.

    Raises ParseError for an unknown code, short fixed fields, or a value over 255
    characters. Unknown variable field ids are kept (callers ignore what they do not
    ask for); fragments too short to carry an id are ignored.
    """
    body = strip_trailer(text)
    code = body[:2]
    layout = FIXED.get(code)
    if layout is None:
        raise ParseError(f"unknown message code {code!r}")
    fixed: dict[str, str] = {}
    position = 2
    if layout == _DATE_ONLY and not _DATE.fullmatch(body[2:20]) and _FIELD_START.match(body, 2):
        # A request whose only fixed field is its date, sent without it (PyPI `sip2` 1.1
        # writes 65 so): read the fields, and take the date as "none".
        fixed["date"] = BLANK_DATE
        layout = ()
    for name, width in layout:
        value = body[position : position + width]
        if len(value) != width:
            raise ParseError(f"message {code}: fixed field {name} is short")
        fixed[name] = value
        position += width
    fields: list[tuple[str, str]] = []
    for fragment in body[position:].split("|"):
        if len(fragment) < 2:
            continue
        value = fragment[2:]
        if len(value) > MAX_VALUE:
            raise ParseError(f"message {code}: field {fragment[:2]} is over {MAX_VALUE} long")
        fields.append((fragment[:2], value))
    return Message(code, fixed, tuple(fields))


# -- formatting --------------------------------------------------------------------------

_UNSAFE = re.compile(r"[|\r\n\x00-\x1f\x7f]")


def clean_value(value: str) -> str:
    """A value fit for a variable field: no separators or control characters, ≤255."""
    return _UNSAFE.sub(" ", value)[:MAX_VALUE]


def format_body(msg: Message) -> str:
    """The text of a message without trailer: code, fixed fields at their exact widths,
    then each variable field followed by `|`."""
    layout = FIXED[msg.code]
    parts = [msg.code]
    for name, width in layout:
        value = msg.fixed.get(name, "")
        if len(value) != width:
            raise ValueError(f"message {msg.code}: {name} must be {width} wide, not {value!r}")
        parts.append(value)
    for field_id, value in msg.fields:
        if len(field_id) != 2:
            raise ValueError(f"bad field id {field_id!r}")
        parts.append(f"{field_id}{clean_value(value)}|")
    return "".join(parts)


def encode(
    msg: Message,
    *,
    sequence: str | None = None,
    encoding: str = "utf-8",
    terminator: bytes = b"\r",
    with_checksum: bool = True,
) -> bytes:
    """The bytes of one frame. 96 and 97 carry a checksum but never a sequence number."""
    text = format_body(msg)
    if sequence is not None and msg.code not in {"96", "97"}:
        text += f"AY{sequence}"
    data = text.encode(encoding, errors="replace")
    if with_checksum:
        data += b"AZ"
        data += checksum(data).encode("ascii")
    return data + terminator


# -- fixed-field helpers -----------------------------------------------------------------


def sip_date(moment: datetime | None, zone: tzinfo) -> str:
    """`YYYYMMDDZZZZHHMMSS` in the institution's local time (ZZZZ blank), or 18 blanks."""
    if moment is None:
        return BLANK_DATE
    local = moment.astimezone(zone) if moment.tzinfo is not None else moment
    return local.strftime("%Y%m%d    %H%M%S")


def parse_date(value: str, zone: tzinfo) -> datetime | None:
    """A received date; 18 blanks (or anything unreadable) is no date."""
    if not value.strip():
        return None
    try:
        day = datetime.strptime(value[:8] + value[12:18], "%Y%m%d%H%M%S")
    except ValueError:
        return None
    if value[8:12].strip() == "Z":
        from datetime import UTC

        return day.replace(tzinfo=UTC)
    return day.replace(tzinfo=zone)


def yes_no(flag: bool) -> str:
    return "Y" if flag else "N"


def count(value: int) -> str:
    """A 4-digit count; more than 9999 shows as 9999."""
    return f"{max(0, min(value, 9999)):04d}"


# The SIP2 language codes PatronAuth has texts for. Anything else is answered in the
# institution's default language and echoed back as "000" (unknown).
_LANGUAGES = {"001": "en", "eng": "en", "024": "en", "019": "zh_Hant", "027": "zh_Hant"}
_LANGUAGE_CODES = {"en": "001", "zh_Hant": "019"}


def language_of(code: str) -> str | None:
    """The PatronAuth language of a SIP2 language field (`eng` is accepted as English)."""
    return _LANGUAGES.get(code.strip().lower())


def language_code(language: str | None) -> str:
    return _LANGUAGE_CODES.get(language or "", "000")


def patron_status(flags: Iterable[bool]) -> str:
    """The 14-character patron status: `Y` where a flag is set, blank elsewhere."""
    text = "".join("Y" if flag else " " for flag in flags)
    if len(text) != 14:
        raise ValueError("a patron status has 14 flags")
    return text
