"""Text hygiene shared by identifiers and secrets (S2)."""

from __future__ import annotations

import pytest

from patronauth.domain.text import compact_upper, has_control_characters, nfc


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("HKPL0001", False),
        ("", False),
        ("with spaces", False),
        ("\u3000ideographic space", False),
        ("網上密碼", False),
        ("café", False),
        ("e\u0301", False),
        ("😀", False),
        ("nul\x00", True),
        ("tab\t", True),
        ("line\nbreak", True),
        ("carriage\r", True),
        ("escape\x1b[0m", True),
        ("delete\x7f", True),
        ("c1 next line\x85", True),
        ("zero\u200bwidth", True),
        ("bidi\u202eoverride", True),
        ("line\u2028separator", True),
        ("paragraph\u2029separator", True),
        ("private\ue000use", True),
        ("unassigned\U000e0fff", True),
        ("lone\ud800surrogate", True),
    ],
)
def test_control_characters(text: str, expected: bool) -> None:
    assert has_control_characters(text) is expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("e\u0301", "\u00e9"),
        ("\u212b", "\u00c5"),
        ("\u00e9", "\u00e9"),
        # NFC keeps full-width forms: secrets are not folded the way identifiers are.
        ("ｆｕｌｌ", "ｆｕｌｌ"),
    ],
)
def test_nfc(text: str, expected: str) -> None:
    assert nfc(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("hkpl0001", "HKPL0001"),
        (" HKPL 0001 ", "HKPL0001"),
        ("ＨＫＰＬ０００１", "HKPL0001"),
        ("hkpl\u30000001", "HKPL0001"),
        ("Z123456（7）", "Z123456(7)"),
        ("", ""),
        ("  ", ""),
    ],
)
def test_compact_upper(text: str, expected: str) -> None:
    assert compact_upper(text) == expected
