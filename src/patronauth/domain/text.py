"""Text hygiene shared by identifiers and secrets (S2)."""

from __future__ import annotations

import unicodedata

_FORBIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Cn", "Co", "Cs", "Zl", "Zp"})


def has_control_characters(text: str) -> bool:
    """True for NUL, C0/C1 controls, line breaks, format, private and unassigned code points."""
    # Printable text (Python's sense: no "Other" or "Separator" character but the space)
    # has none of them; the per-character lookup is only for the rest (P3: it was the
    # largest single cost of checking a registry feed).
    if text.isprintable():
        return False
    return any(unicodedata.category(ch) in _FORBIDDEN_CATEGORIES for ch in text)


def nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def compact_upper(text: str) -> str:
    """NFKC (full-width forms become ASCII), all white space removed, upper case."""
    folded = text if text.isascii() else unicodedata.normalize("NFKC", text)
    # `split()` cuts at exactly the characters `str.isspace` calls white space.
    return "".join(folded.split()).upper()
