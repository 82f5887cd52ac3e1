"""Every spoken text has its words in all three languages, with the same placeholders,
and every reason a renewal can be refused has words of its own on the line."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from patronauth import telephone
from patronauth.telephone.dialogue import LANGUAGE_MENU, MENU
from patronauth.telephone.prompts import PROMPTS
from patronauth.telephone.speech import LANGUAGES, speak, text

LOCALES = Path(telephone.__file__).parent / "locales"
SRC = Path(telephone.__file__).parents[1]
PLACEHOLDER = re.compile(r"\{(\w+)\}")


@pytest.mark.parametrize("language", ["yue", "cmn"])
def test_every_key_has_a_translation_with_the_same_placeholders(language: str) -> None:
    with (LOCALES / language / "LC_MESSAGES" / "telephone.po").open("rb") as handle:
        catalog = read_po(handle)
    ids = {m.id for m in catalog if m.id}
    assert ids == set(PROMPTS.values())  # nothing missing, nothing left over
    for key, english in PROMPTS.items():
        entry = catalog.get(english)
        assert entry is not None, key
        assert entry.string, key
        assert not entry.fuzzy, key
        assert set(PLACEHOLDER.findall(entry.string)) == set(PLACEHOLDER.findall(english)), key


def test_every_key_is_spoken_differently_in_each_language() -> None:
    params = {"minutes": 3, "count": 2, "position": 1, "date": "D", "renewed": 1,
              "refused": 0, "amount": "HK$1.50"}  # fmt: skip
    for key in PROMPTS:
        said = {language: text(key, language, dict(params)) for language in LANGUAGES}
        assert len(set(said.values())) == 3, key
        assert not re.search(r"[\u4e00-\u9fff]", said["en"]), key
        assert re.search(r"[\u4e00-\u9fff]", said["yue"]), key
        assert re.search(r"[\u4e00-\u9fff]", said["cmn"]), key


def test_cantonese_is_written_in_traditional_and_putonghua_in_simplified_characters() -> None:
    assert text("menu", "yue").startswith("查詢借閱資料")
    assert text("menu", "cmn").startswith("查询借阅资料")
    assert "請" in text("pin.enter", "yue")
    assert "请" in text("pin.enter", "cmn")


def test_every_renewal_refusal_has_words_on_the_line() -> None:
    raised = set()
    for path in (SRC / "domain").rglob("*.py"):
        raised |= set(re.findall(r'"(renewal\.[a-z_]+)"', path.read_text("utf-8")))
        raised |= {
            f"renewal.{reason}"
            for reason in re.findall(r'return "(account_[a-z]+)"', path.read_text("utf-8"))
        }
    raised |= {"renewal.fines_block", "renewal.overdue_block"}  # built from the action
    assert {"renewal.reserved", "renewal.max_renewals", "renewal.account_expired"} <= raised
    assert raised <= PROMPTS.keys()


def test_the_language_menu_switches_voice_per_language() -> None:
    pieces = speak(LANGUAGE_MENU, "en")
    assert [p.language for p in pieces] == ["yue", "cmn", "en"]
    assert pieces[0].text == "歡迎致電圖書館電話續借服務。廣東話請按1。"
    assert speak((MENU,), "en")[0].text.startswith("To hear your loans, press 1.")


def test_a_reason_the_line_has_no_words_for_is_still_said() -> None:
    assert text("renewal.some_future_rule", "en") == "Please ask at a library counter."
