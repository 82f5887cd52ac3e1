"""Text hygiene shared by identifiers and secrets (S2)."""

from __future__ import annotations

import unicodedata

_FORBIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Cn", "Co", "Cs", "Zl", "Zp"})


def has_control_characters(text: str) -> bool:
    """True for NUL, C0/C1 controls, line breaks, format, private and unassigned code points."""
    return any(unicodedata.category(ch) in _FORBIDDEN_CATEGORIES for ch in text)


def nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def compact_upper(text: str) -> str:
    """NFKC (full-width forms become ASCII), all white space removed, upper case."""
    folded = unicodedata.normalize("NFKC", text)
    return "".join(ch for ch in folded if not ch.isspace()).upper()
