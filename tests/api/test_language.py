"""`Accept-Language` to the language of messages: en or zh_Hant, English by default."""

from __future__ import annotations

import pytest

from patronauth.api.language import negotiate


@pytest.mark.parametrize(
    ("header", "language"),
    [
        (None, "en"),
        ("", "en"),
        ("en", "en"),
        ("en-GB,en;q=0.9", "en"),
        ("zh-Hant", "zh_Hant"),
        ("zh_Hant", "zh_Hant"),
        ("zh-HK", "zh_Hant"),
        ("ZH-tw", "zh_Hant"),
        ("zh-Hant-HK, zh;q=0.9, en;q=0.8", "zh_Hant"),
        ("zh-CN", "zh_Hant"),  # Traditional still reads better than English
        ("fr, zh-HK;q=0.5", "zh_Hant"),
        ("en;q=0.4, zh-HK;q=0.6", "zh_Hant"),
        ("zh-HK;q=0.5, en;q=0.5", "zh_Hant"),  # a tie keeps the client's order
        ("zh-HK;q=0, en;q=0.1", "en"),
        ("zh-HK;q=abc", "en"),
        ("zh-HK;q=2", "en"),
        ("fr, de", "en"),
        ("*", "en"),
        ("zh-HK" + ",x" * 300, "en"),  # over 512 characters: not parsed at all
    ],
)
def test_the_preferred_supported_language_wins(header: str | None, language: str) -> None:
    assert negotiate(header) == language
