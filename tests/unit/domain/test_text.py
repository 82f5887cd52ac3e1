"""Text hygiene shared by identifiers and secrets (S2)."""

from __future__ import annotations

import sys
import unicodedata

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


def test_the_printable_shortcut_agrees_with_the_categories_for_every_code_point() -> None:
    """`has_control_characters` answers printable text without a lookup per character;
    this holds only if no printable character is in a forbidden category."""
    forbidden = {"Cc", "Cf", "Cn", "Co", "Cs", "Zl", "Zp"}
    disagreeing = [
        hex(code)
        for code in range(sys.maxunicode + 1)
        if has_control_characters(chr(code)) != (unicodedata.category(chr(code)) in forbidden)
    ]
    assert disagreeing == []


def test_compact_upper_removes_exactly_the_white_space_isspace_names() -> None:
    spaces = "".join(chr(c) for c in range(sys.maxunicode + 1) if chr(c).isspace())
    assert compact_upper(f"a{spaces}b") == "AB"
    assert compact_upper("ａｂ\u3000１２") == "AB12"  # full-width forms fold (NFKC)
