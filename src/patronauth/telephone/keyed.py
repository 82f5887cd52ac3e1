"""What a caller keys: card numbers with letters, PINs, menu choices (docs/telephone.md).

A keypad has twelve keys. A card number with letters is keyed as the profile says:
`position`: a letter is star and its place in the alphabet in two digits (`CU1234567`
is `*03*211234567`); `digits`: the digits alone, and each of the profile's prefixes is
tried with them, then none.
"""

from __future__ import annotations

import re

from patronauth.domain.profile import KeyedLetters, TelephoneLine

MAX_KEYS = 40  # more than any card number or PIN needs, keyed as above
KEYS = re.compile(r"[0-9*#]*")
_POSITION = re.compile(r"(?:[0-9]|\*(?:0[1-9]|1[0-9]|2[0-6]))+")
_LETTER = re.compile(r"\*([0-9]{2})")


def well_formed(keys: str) -> bool:
    """Keypad keys only, and not too many of them: anything else is refused unread."""
    return len(keys) <= MAX_KEYS and KEYS.fullmatch(keys) is not None


def card_numbers(keys: str, line: TelephoneLine) -> tuple[str, ...]:
    """The card numbers a keyed entry stands for, the likeliest first; () when none."""
    if line.letters is KeyedLetters.DIGITS:
        if not keys.isdigit():
            return ()
        return (*(prefix + keys for prefix in line.prefixes), keys)
    if not _POSITION.fullmatch(keys):
        return ()
    return (_LETTER.sub(lambda m: chr(ord("A") + int(m.group(1)) - 1), keys),)


def keyed_form(card: str) -> str:
    """How a card number is keyed in `position` mode (docs and tests)."""
    return "".join(f"*{ord(ch) - ord('A') + 1:02d}" if ch.isalpha() else ch for ch in card.upper())
