"""Whole calls through HTTP as each platform sends them, in each language: renew all,
renew one, a refused renewal with its reason, three wrong PINs, a blocked card, an
unknown card answered exactly as a wrong PIN, a hang-up mid-call (the state is gone)."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from patronauth.bootstrap import App
from patronauth.domain.credentials import Channel
from tests.support import attempt, clock_of
from tests.telephone.callers import CALLERS, LANGUAGE_KEYS, TAGS, Caller, VoiceXmlCaller, refused
from tests.telephone.library import KEYED_CARD, PIN, Library, stocked

pytestmark = pytest.mark.anyio

PLATFORMS = ["twilio", "voicexml"]
LANGUAGES = ["yue", "cmn", "en"]

# What the caller hears, by language (HKPL lends for 21 days: due 15 December 2026;
# a renewal from there runs to 5 January 2027).
HEARS = {
    "en": {
        "card": "Please key in your library card number",
        "pin": "Please key in your PIN",
        "menu": "To renew all your loans, press 2.",
        "count": "Items on loan: 3.",
        "due": "Item 1 is due on 15 December 2026.",
        "summary": "Items renewed: 2. Items not renewed: 1.",
        "renewed_1": "Item 1 is renewed. It is now due on 5 January 2027.",
        "renewed_3": "Item 3 is renewed. It is now due on 5 January 2027.",
        "refused_2": "Item 2 cannot be renewed. Another reader has reserved it.",
        "invalid": "The card number or PIN is not correct.",
        "too_many": "Sorry, we could not complete your request.",
        "blocked": "Please call again in 1 minutes.",
        "goodbye": "Thank you for calling. Goodbye.",
    },
    "yue": {
        "card": "請輸入你的圖書證號碼",
        "pin": "請輸入你的個人密碼",
        "menu": "續借所有資料，請按2。",
        "count": "借用中的資料：3項。",
        "due": "第1項，到期日係2026年12月15日。",
        "summary": "已續借：2項。未能續借：1項。",
        "renewed_1": "第1項已續借，新到期日係2027年1月5日。",
        "renewed_3": "第3項已續借，新到期日係2027年1月5日。",
        "refused_2": "第2項未能續借。這項資料已有其他讀者預約。",
        "invalid": "圖書證號碼或個人密碼不正確。",
        "too_many": "對不起，未能完成你的要求。",
        "blocked": "請1分鐘後再致電。",
        "goodbye": "多謝致電，再見。",
    },
    "cmn": {
        "card": "请输入您的图书证号码",
        "pin": "请输入您的个人密码",
        "menu": "续借所有资料，请按2。",
        "count": "借阅中的资料：3项。",
        "due": "第1项，到期日是2026年12月15日。",
        "summary": "已续借：2项。未能续借：1项。",
        "renewed_1": "第1项已续借，新到期日是2027年1月5日。",
        "renewed_3": "第3项已续借，新到期日是2027年1月5日。",
        "refused_2": "第2项未能续借。这项资料已有其他读者预约。",
        "invalid": "图书证号码或个人密码不正确。",
        "too_many": "对不起，未能完成您的请求。",
        "blocked": "请1分钟后再致电。",
        "goodbye": "感谢您的来电，再见。",
    },
}

Dial = Callable[..., Caller]


@pytest.fixture
def dial(line: App, client: httpx.AsyncClient) -> Dial:
    count = iter(range(1, 10_000))

    def make(platform: str, institution: str = "hkpl", call_id: str | None = None) -> Caller:
        VoiceXmlCaller.now = int(clock_of(line).now().timestamp())
        return CALLERS[platform](client, institution, call_id or f"CA{next(count):032d}")

    return make


@pytest.fixture
def library(line: App) -> Library:
    return stocked(line)


async def signed_in(caller: Caller, language: str, pin: str = PIN) -> str:
    """Dial, pick the language, key the card and the PIN; what the menu said."""
    first = await caller.dial()
    assert first.status == 200
    assert first.collects
    assert first.languages == set(TAGS[caller.platform].values())  # all three offered
    card = await caller.press(LANGUAGE_KEYS[language])
    assert HEARS[language]["card"] in card.text
    assert card.languages == {TAGS[caller.platform][language]}
    asked = await caller.press(KEYED_CARD)
    assert HEARS[language]["pin"] in asked.text
    menu = await caller.press(pin)
    assert menu.status == 200
    return menu.text


@pytest.mark.parametrize("platform", PLATFORMS)
@pytest.mark.parametrize("language", LANGUAGES)
async def test_renew_all_with_one_refused_for_its_reservation(
    dial: Dial, library: Library, platform: str, language: str
) -> None:
    hears = HEARS[language]
    loans = library.lend("HKPL0001", 3)
    library.reserve_for_other(loans[1])
    caller = dial(platform)
    assert hears["menu"] in await signed_in(caller, language)
    listed = await caller.press("1")
    assert hears["count"] in listed.text
    assert hears["due"] in listed.text
    renewed = await caller.press("2")
    for phrase in ("summary", "renewed_1", "refused_2", "renewed_3", "menu"):
        assert hears[phrase] in renewed.text, phrase
    assert [library.loan(loan.id).renewals for loan in loans] == [1, 0, 1]
    audited = library.audit("renewal")
    assert sorted(e.outcome for e in audited) == ["ok", "ok", "renewal.reserved"]
    assert {e.channel for e in audited} == {"telephone"}
    goodbye = await caller.press("9")
    assert hears["goodbye"] in goodbye.text
    assert goodbye.ended
    assert library.calls()[0][1:] == ("", "")  # the ended call keeps no state


@pytest.mark.parametrize("platform", PLATFORMS)
@pytest.mark.parametrize("language", LANGUAGES)
async def test_renew_one_by_its_position_and_a_refusal_with_its_reason(
    dial: Dial, library: Library, platform: str, language: str
) -> None:
    hears = HEARS[language]
    loans = library.lend("HKPL0001", 3)
    library.reserve_for_other(loans[1])
    caller = dial(platform)
    await signed_in(caller, language)
    await caller.press("3")
    renewed = await caller.press("1")
    assert hears["renewed_1"] in renewed.text
    await caller.press("3")
    denied = await caller.press("2")
    assert hears["refused_2"] in denied.text
    assert [library.loan(loan.id).renewals for loan in loans] == [1, 0, 0]
    assert sorted(e.outcome for e in library.audit("renewal")) == ["ok", "renewal.reserved"]


@pytest.mark.parametrize("platform", PLATFORMS)
@pytest.mark.parametrize("language", LANGUAGES)
async def test_three_wrong_pins_end_the_call_politely_and_count_as_telephone_attempts(
    dial: Dial, library: Library, platform: str, language: str
) -> None:
    hears = HEARS[language]
    caller = dial(platform)
    await caller.dial()
    await caller.press(LANGUAGE_KEYS[language])
    for n in range(3):
        await caller.press(KEYED_CARD)
        heard = await caller.press("0000")
        assert hears["invalid"] in heard.text
        assert heard.ended == (n == 2)
    assert hears["too_many"] in heard.text
    assert hears["goodbye"] in heard.text
    attempts = library.audit("sign_in")
    assert [(e.outcome, e.channel) for e in attempts] == [("invalid", "telephone")] * 3
    assert library.calls()[0][1:] == ("", "")


@pytest.mark.parametrize("platform", PLATFORMS)
@pytest.mark.parametrize("language", LANGUAGES)
async def test_a_blocked_card_hears_the_minutes_to_wait(
    line: App, dial: Dial, library: Library, platform: str, language: str
) -> None:
    # Five failures on other channels: the telephone shares their lockout (S3).
    for _ in range(5):
        attempt(line, "HKPL0001", "0000", Channel.SIP2)
    caller = dial(platform)
    await caller.dial()
    await caller.press(LANGUAGE_KEYS[language])
    await caller.press(KEYED_CARD)
    heard = await caller.press(PIN)  # the right PIN, still refused
    assert HEARS[language]["blocked"] in heard.text
    assert heard.ended
    assert library.audit("sign_in")[0].outcome == "blocked"


@pytest.mark.parametrize("platform", PLATFORMS)
async def test_an_unknown_card_is_answered_exactly_as_a_wrong_pin(
    dial: Dial, library: Library, platform: str
) -> None:
    answers = []
    for card in (KEYED_CARD, "*08*11*16*129999"):  # HKPL0001, and HKPL9999 nobody has
        caller = dial(platform)
        await caller.dial()
        await caller.press("3")
        await caller.press(card)
        heard = await caller.press("0000")
        answers.append((heard.status, heard.pieces, heard.collects, heard.ended))
    assert answers[0] == answers[1]
    assert [e.outcome for e in library.audit("sign_in")] == ["invalid", "invalid"]


@pytest.mark.parametrize("platform", PLATFORMS)
async def test_a_hang_up_mid_call_drops_its_state_and_later_requests_are_refused(
    dial: Dial, library: Library, platform: str
) -> None:
    caller = dial(platform)
    await caller.dial()
    await caller.press("3")
    await caller.press(KEYED_CARD)
    [(_, state, turn)] = library.calls()
    assert "HKPL0001" in state  # the card waits for its PIN, on the server
    assert turn
    assert await caller.hang_up() in {200, 204}
    assert library.calls()[0][1:] == ("", "")
    denied = await caller.press(PIN)
    assert denied.status == 404
    assert denied.body == refused("call.unknown")
    assert library.audit("sign_in") == []  # the PIN after the hang-up was never tried


@pytest.mark.parametrize("platform", PLATFORMS)
async def test_no_language_chosen_is_the_librarys_default_and_fines_are_told(
    dial: Dial, library: Library, platform: str
) -> None:
    caller = dial(platform)
    await caller.dial()
    card = await caller.wait()  # HKPL: Cantonese
    assert HEARS["yue"]["card"] in card.text
    await caller.press(KEYED_CARD)
    await caller.press(PIN)
    fines = await caller.press("4")
    assert "你沒有罰款要繳付。" in fines.text
    again = await caller.press("0")
    assert "你沒有罰款要繳付。" in again.text  # 0 repeats what was said last


@pytest.mark.parametrize("platform", PLATFORMS)
async def test_a_library_without_the_telephone_channel_only_says_so(
    dial: Dial, library: Library, platform: str
) -> None:
    caller = dial(platform, "hkct")
    heard = await caller.dial()
    assert heard.status == 200
    assert heard.ended
    assert not heard.collects
    assert "This library does not offer a telephone renewal service." in heard.text
    assert "本圖書館沒有提供電話續借服務。" in heard.text
    assert len(heard.pieces) == 3
    assert library.calls() == []


@pytest.mark.parametrize("platform", PLATFORMS)
async def test_a_julac_card_keyed_as_its_digits_alone_when_they_name_one_card(
    line: App, dial: Dial, platform: str
) -> None:
    from patronauth.services.credentials import set_up_credential
    from tests.support import STAFF, register

    # HKU's PINs need two kinds of characters: digits and the star key will do.
    register(line, "hku", "CU1234567")
    set_up_credential(
        line.ports, "CU1234567", None, "2468013579*", "2468013579*",
        actor=STAFF, channel=Channel.STAFF,
    )  # fmt: skip
    caller = dial(platform, "hku")
    await caller.dial()
    heard = await caller.press("3")
    assert "Leave out any letters, and key in the digits only." in heard.text
    await caller.press("1234567")
    menu = await caller.press("2468013579*")
    assert "To hear your loans, press 1." in menu.text
    # Another university's card with the same digits: they name no one card any more.
    register(line, "hku", "BU1234567")
    other = dial(platform, "hku")
    await other.dial()
    await other.press("3")
    await other.press("1234567")
    denied = await other.press("2468013579*")
    assert "The card number or PIN is not correct." in denied.text
    library = Library(line)
    (refused, signed_in) = [(e.outcome, e.identifier) for e in library.audit("sign_in")]
    assert signed_in == ("ok", "CU1234567")
    # Digits that name two cards identify no patron: kept as a keyed digest (docs/security.md).
    assert refused[0] == "invalid"
    assert ":audit:" in refused[1]
    assert "1234567" not in refused[1]
