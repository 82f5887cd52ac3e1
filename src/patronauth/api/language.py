"""The language of an answer, from `Accept-Language` (en or zh_Hant; en by default)."""

# No `from __future__ import annotations`: FastAPI reads `language`'s annotations.

from typing import Annotated

from fastapi import Depends, Header

from patronauth.presentation.i18n import DEFAULT_LANGUAGE

MAX_HEADER = 512


def _language_of(tag: str) -> str | None:
    tag = tag.strip().lower().replace("_", "-")
    if tag == "en" or tag.startswith("en-"):
        return "en"
    # Every Chinese tag gets Traditional Chinese, the script of the libraries served;
    # a reader who asks for Simplified still reads it better than English.
    if tag == "zh" or tag.startswith("zh-"):
        return "zh_Hant"
    return None


def negotiate(header: str | None) -> str:
    """The supported language the client prefers most (RFC 9110 quality values)."""
    if not header or len(header) > MAX_HEADER:
        return DEFAULT_LANGUAGE
    best, best_q = DEFAULT_LANGUAGE, 0.0
    for item in header.split(","):
        tag, _, params = item.partition(";")
        q = 1.0
        name, _, value = params.strip().partition("=")
        if name.strip().lower() == "q":
            try:
                q = float(value)
            except ValueError:
                continue
        language = _language_of(tag)
        # A tie keeps the earlier entry: the list is in the client's order.
        if language is not None and best_q < q <= 1:
            best, best_q = language, q
    return best


async def language(
    accept_language: Annotated[
        str | None,
        Header(description="`en` (the default) or `zh-Hant`: the language of messages."),
    ] = None,
) -> str:
    # `async`: FastAPI runs a plain `def` dependency in its thread pool, a hand-over to a
    # worker thread and back for a few string operations on every request (P1).
    return negotiate(accept_language)


Language = Annotated[str, Depends(language)]
