"""Every reason code and every text of the web pages has an English message and a
Traditional Chinese translation."""

from __future__ import annotations

import re
import subprocess
import sys
from itertools import product
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from patronauth.presentation import i18n
from patronauth.presentation.i18n.messages import CREDENTIAL_NAMES, MESSAGES, NOTICES

SRC = Path(i18n.__file__).parents[2]
LOCALES = Path(i18n.__file__).parent / "locales"
MAPPING = SRC.parents[1] / "babel.cfg"  # what the extraction reads: messages.py, templates
POLICY_RULES = [
    "empty", "control_character", "too_long", "too_short", "not_digits", "not_alphanumeric",
    "missing_upper", "missing_lower", "missing_letter", "missing_digit", "missing_special",
    "too_few_categories", "trivial.repeated_char", "trivial.repeated_group", "common",
    "contains_barcode", "contains_name", "contains_phone", "contains_id_number", "unchanged",
    "same_as_default",
]  # fmt: skip


def codes_raised_in_source() -> set[str]:
    pattern = re.compile(r"""\.of\(\s*"([a-z0-9_]+(?:\.[a-z0-9_]+)+)\"""")
    found = set()
    for path in SRC.rglob("*.py"):
        found |= set(pattern.findall(path.read_text("utf-8")))
    return found


def test_every_code_raised_anywhere_has_a_message() -> None:
    raised = codes_raised_in_source()
    assert len(raised) > 40
    assert raised - MESSAGES.keys() == set()


def test_every_policy_rule_of_both_kinds_has_a_message() -> None:
    expected = {f"{kind}.{rule}" for kind, rule in product(("pin", "password"), POLICY_RULES)}
    assert expected - MESSAGES.keys() == set()


def test_every_outcome_has_a_message() -> None:
    from patronauth.domain.credentials import Outcome

    assert {o.reason for o in Outcome} - MESSAGES.keys() == set()


def test_the_chinese_catalogue_translates_every_message_with_the_same_placeholders() -> None:
    with (LOCALES / "zh_Hant" / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        catalog = read_po(handle)
    with (LOCALES / "messages.pot").open("rb") as handle:
        template = read_po(handle)
    english = [*MESSAGES.values(), *CREDENTIAL_NAMES.values()]
    english += [text for pair in NOTICES.values() for text in pair]
    english += [m.id for m in template if m.id and isinstance(m.id, str)]  # the web pages too
    assert len(english) > len(MESSAGES) + 100
    # `{name}` in the messages of reason codes, `%(name)s` in the templates' texts.
    placeholder = re.compile(r"\{(\w+)\}|%\((\w+)\)s")
    for text in english:
        entry = catalog.get(text)
        assert entry is not None, f"missing: {text!r}"
        assert entry.string, f"untranslated: {text!r}"
        assert not entry.fuzzy, f"fuzzy: {text!r}"
        assert set(placeholder.findall(entry.string)) == set(placeholder.findall(text)), text


def test_the_template_is_current(tmp_path: Path) -> None:
    """`messages.pot` is what the extraction of docs/translations.md gives today."""
    fresh = tmp_path / "messages.pot"
    subprocess.run(
        [sys.executable, "-m", "babel.messages.frontend", "extract", "-F", str(MAPPING),
         "--no-default-keywords", "-k", "N_", "-k", "_", "-k", "gettext", "-k", "ngettext:1,2",
         "--no-location", "--omit-header", "--sort-output", "-o", str(fresh), str(SRC)],
        check=True, capture_output=True,
    )  # fmt: skip
    with fresh.open("rb") as new, (LOCALES / "messages.pot").open("rb") as old:
        extracted, kept = {m.id for m in read_po(new)}, {m.id for m in read_po(old)}
    assert extracted == kept
    assert "Sign in to My Account" in extracted  # the templates were read
    assert MESSAGES["login.blocked"] in extracted


@pytest.mark.parametrize(
    ("code", "params", "english", "chinese"),
    [
        ("login.blocked", {"seconds": 60}, "blocked; try again in 60 seconds", "60 秒後再試"),
        ("pin.trivial.repeated_group", {}, "like abab or abcabc", "abab 或 abcabc"),
        ("password.too_short", {"min": 8}, "at least 8 characters", "最少須有 8 個字元"),
        ("sip2.blocked", {"minutes": 1}, "try again in 1 minute.", "請於 1 分鐘後再試"),
        ("sip2.blocked", {"minutes": 5}, "try again in 5 minutes.", "請於 5 分鐘後再試"),
        ("login.blocked", {"seconds": 1}, "try again in 1 second.", "請於 1 秒後再試"),
        (
            "login.invalid",
            {"credential": "PIN"},
            "The card number or the PIN is not",
            "或PIN不正確",
        ),
        (
            "login.invalid",
            {},
            "or the password or PIN is not correct",
            "圖書證號碼或密碼或個人密碼",
        ),
    ],
)
def test_messages_render_with_their_parameters(
    code: str, params: dict[str, int], english: str, chinese: str
) -> None:
    assert english in i18n.message(code, "en", **params)
    assert chinese in i18n.message(code, "zh_Hant", **params)


def test_an_unknown_language_falls_back_to_english() -> None:
    assert i18n.message("login.invalid", "fr") == i18n.message("login.invalid", "en")
