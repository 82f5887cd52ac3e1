"""Generated registry feeds (docs/registry-feed.md) for the provisioning benchmark (P3).

Every row is valid: a unique barcode, a name, a phone number (HKPL's default is its
last four digits) and an HKID with a correct check digit, so that every row costs the
whole of validation and every keyed digest (S9).

The re-import figure reads the same feed again with every hundredth row changed (a new
phone number, so the patron's default credentials move too), as a registry's daily
full feed would be.
"""

from __future__ import annotations

import random
from pathlib import Path

from patronauth.domain.identifiers import hkid_check_digit

HEADER = "barcode,category,name,email,phone,id_number,id_type,registered_on,status,language"
_SURNAMES = ("Chan", "Lee", "Wong", "Cheung", "Lau", "Ho", "Ng", "Leung", "Lam", "Tsang")
_GIVEN = ("Tai Man", "Siu Ming", "Ka Yan", "Wing Sze", "Chi Keung", "Mei Ling", "Ho Yin")
_LETTERS = "ABCDEGHKMPRVYZ"


def hkid(number: int) -> str:
    letter = _LETTERS[number % len(_LETTERS)]
    digits = f"{number % 1_000_000:06d}"
    return f"{letter}{digits}({hkid_check_digit(letter, digits)})"


def row(number: int, rng: random.Random, prefix: str = "B", *, changed: bool = False) -> str:
    name = f"{rng.choice(_SURNAMES)} {rng.choice(_GIVEN)}"
    email = f"reader{number}@example.org" if number % 3 == 0 else ""
    phone = f"{rng.choice('5679')}{rng.randrange(10_000_000):07d}"
    if changed:  # drawn all the same, so that the other rows stay as they were
        phone = f"6{number % 10_000_000:07d}"
    phone = f"{phone[:4]} {phone[4:]}"
    year = 2000 + number % 26
    status = "pending" if number % 50 == 0 else "active"
    language = "zh_Hant" if number % 2 else "en"
    return (
        f"{prefix}{number:09d},reader,{name},{email},{phone},{hkid(number)},hkid,"
        f"{year}-{1 + number % 12:02d}-{1 + number % 28:02d},{status},{language}"
    )


def write_feed(
    path: Path, rows: int, *, seed: int = 2026, prefix: str = "B", changed_every: int = 0
) -> Path:
    """A feed of `rows` patrons; with `changed_every`, the same feed with every
    `changed_every`-th row given a new phone number."""
    rng = random.Random(seed)
    with path.open("w", encoding="utf-8", newline="\n") as handle:
        handle.write(HEADER + "\n")
        chunk: list[str] = []
        for number in range(1, rows + 1):
            changed = changed_every > 0 and number % changed_every == 0
            chunk.append(row(number, rng, prefix, changed=changed))
            if len(chunk) == 10_000:
                handle.write("\n".join(chunk) + "\n")
                chunk.clear()
        if chunk:
            handle.write("\n".join(chunk) + "\n")
    return path
