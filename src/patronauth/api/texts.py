"""The texts of API answers, in English or Traditional Chinese.

Messages come from the translation catalogue by reason code. The few answers only the
HTTP edge gives (malformed JSON, an unknown address, ...) have no reason code there
yet; their texts are kept here in both languages until the catalogue carries them,
and a code the catalogue knows always takes the catalogue's text.
"""

from __future__ import annotations

from patronauth.adapters import i18n
from patronauth.adapters.i18n.messages import MESSAGES
from patronauth.api.schemas import ViolationOut
from patronauth.domain.errors import Param, Violation
from patronauth.domain.text import has_control_characters

_EDGE_TEXTS: dict[str, dict[str, str]] = {
    "request.malformed": {
        "en": "The request body is not valid JSON in UTF-8.",
        "zh_Hant": "請求內容不是以 UTF-8 編碼的有效 JSON。",
    },
    "request.invalid": {
        "en": "The request body must be a JSON object with the fields this operation expects.",
        "zh_Hant": "請求內容必須是包含此操作所需欄位的 JSON 物件。",
    },
    "field.invalid": {
        "en": "The field {field} is missing or not valid.",
        "zh_Hant": "欄位 {field} 缺少或無效。",
    },
    "field.unknown": {
        "en": "This operation has no field {field}.",
        "zh_Hant": "此操作沒有欄位 {field}。",
    },
    "request.not_found": {
        "en": "This API has no such address.",
        "zh_Hant": "此 API 沒有這個位址。",
    },
    "request.method_not_allowed": {
        "en": "This address does not accept the {method} method.",
        "zh_Hant": "此位址不接受 {method} 請求方法。",
    },
    "request.too_large": {
        "en": "The request is too large.",
        "zh_Hant": "請求內容過大。",
    },
    "reset.requested": {
        "en": "If the details match a library account, we have sent an e-mail to its "
        "registered address. Without a registered e-mail address, please ask at a "
        "library counter.",
        "zh_Hant": "如資料與圖書館帳戶相符，我們已把電郵寄到該帳戶的登記電郵地址。"
        "如沒有登記電郵地址，請到圖書館服務櫃檯查詢。",
    },
    "service.unavailable": {
        "en": "The service is unavailable for a moment. Please try again shortly.",
        "zh_Hant": "服務暫時未能使用，請稍後再試。",
    },
    "service.error": {
        "en": "Something went wrong on our side. Please try again later.",
        "zh_Hant": "系統發生錯誤，請稍後再試。",
    },
}

ECHO_LIMIT = 40


def printable(value: str, limit: int | None = None) -> str:
    """Typed text as a message may repeat it: controls (and lone surrogates, which UTF-8
    cannot carry) escaped, and cut at `limit` characters."""
    shown = value if limit is None or len(value) <= limit else value[:limit] + "…"
    return "".join(
        ch.encode("unicode_escape").decode("ascii") if has_control_characters(ch) else ch
        for ch in shown
    )


def text(code: str, language: str, **params: Param) -> str:
    if code in MESSAGES or code not in _EDGE_TEXTS:
        return i18n.message(code, language, **params)
    return _EDGE_TEXTS[code][language].format_map(params)


def rendered(violation: Violation, language: str) -> ViolationOut:
    """A refusal's message. Its values may repeat what was typed: made printable."""
    params = {k: printable(v) if isinstance(v, str) else v for k, v in violation.params.items()}
    return ViolationOut(code=violation.code, message=text(violation.code, language, **params))
