"""Self-service terminals (SPEC 4.5): the accounts SIP2 kiosks log in with (message 93).

A terminal belongs to one institution and serves only its patrons and items. Its
password travels in a SIP2 field, so it may not contain the field separator `|`, and
it must be writable in the terminal's encoding.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from enum import StrEnum

from patronauth.domain.credentials import Channel
from patronauth.domain.errors import InvalidInput
from patronauth.domain.text import has_control_characters

LOGIN_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,31}")
PASSWORD_MIN_LENGTH = 12
PASSWORD_MAX_LENGTH = 128
LOCATION_MAX_LENGTH = 64


class Encoding(StrEnum):
    UTF8 = "utf-8"
    CP850 = "cp850"  # older kiosks


@dataclass(frozen=True)
class TerminalOptions:
    encoding: Encoding = Encoding.UTF8
    crlf: bool = False  # answer with CR LF instead of CR
    allow_pinless: bool = False  # an empty PIN (AD) is accepted as "no PIN needed"
    wrong_pin_as_unknown: bool = False  # a wrong PIN gets the unknown-patron answer
    # What its requests count and audit as: `telephone` for a telephone box (an IVR)
    # that speaks SIP2, so that its PIN checks are the telephone channel's.
    channel: Channel = Channel.SIP2


@dataclass(frozen=True)
class Terminal:
    id: int
    login: str
    institution: str
    location: str
    enabled: bool
    options: TerminalOptions


TERMINAL_CHANNELS = (Channel.SIP2, Channel.TELEPHONE)


def terminal_channel(raw: str) -> Channel:
    """The channel a terminal's requests count as: sip2, or telephone."""
    if raw not in {c.value for c in TERMINAL_CHANNELS}:
        raise InvalidInput.of("terminal.channel_invalid", allowed="sip2, telephone")
    return Channel(raw)


def terminal_login(raw: str) -> str:
    """A terminal's login: 1 to 32 ASCII letters, digits, dots, dashes, underscores."""
    if not LOGIN_PATTERN.fullmatch(raw):
        raise InvalidInput.of("terminal.login_invalid")
    return raw


def terminal_location(raw: str | None) -> str:
    """Free text naming where the terminal stands (SIP2 CP): no field separator, no
    markup, no control characters."""
    text = " ".join(unicodedata.normalize("NFC", raw or "").split())
    if (
        has_control_characters(raw or "")
        or any(ch in text for ch in "|<>")
        or len(text) > LOCATION_MAX_LENGTH
    ):
        raise InvalidInput.of("terminal.location_invalid", max=LOCATION_MAX_LENGTH)
    return text


def terminal_password(raw: str, encoding: Encoding) -> str:
    """The password a terminal sends in CO, checked before it is hashed (S2)."""
    password = unicodedata.normalize("NFC", raw)
    if len(password) < PASSWORD_MIN_LENGTH:
        raise InvalidInput.of("terminal.password_too_short", min=PASSWORD_MIN_LENGTH)
    if len(password) > PASSWORD_MAX_LENGTH:
        raise InvalidInput.of("terminal.password_too_long", max=PASSWORD_MAX_LENGTH)
    if has_control_characters(password):
        raise InvalidInput.of("terminal.password_control_character")
    if "|" in password:
        raise InvalidInput.of("terminal.password_separator")
    try:
        password.encode(encoding.value)
    except UnicodeEncodeError:
        raise InvalidInput.of("terminal.password_not_encodable", encoding=encoding.value) from None
    return password
