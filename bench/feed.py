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
from itertools import islice
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


def _spaced(phone: str) -> str:
    return f"{phone[:4]} {phone[4:]}"


def _changed_phone(number: int) -> str:
    return _spaced(f"6{number % 10_000_000:07d}")


def row(number: int, rng: random.Random, prefix: str = "B") -> str:
    name = f"{rng.choice(_SURNAMES)} {rng.choice(_GIVEN)}"
    email = f"reader{number}@example.org" if number % 3 == 0 else ""
    phone = _spaced(f"{rng.choice('5679')}{rng.randrange(10_000_000):07d}")
    year = 2000 + number % 26
    status = "pending" if number % 50 == 0 else "active"
    language = "zh_Hant" if number % 2 else "en"
    return (
        f"{prefix}{number:09d},reader,{name},{email},{phone},{hkid(number)},hkid,"
        f"{year}-{1 + number % 12:02d}-{1 + number % 28:02d},{status},{language}"
    )


def write_feeds(
    folder: Path, rows: int, *, changed_every: int, seed: int = 2026, prefix: str = "B"
) -> tuple[Path, Path]:
    """A feed of `rows` patrons and the same feed with every `changed_every`-th row
    given a new phone number, written in one pass."""
    rng = random.Random(seed)
    feed, changed = folder / f"registry-{rows}.csv", folder / f"registry-{rows}-changed.csv"
    with (
        feed.open("w", encoding="utf-8", newline="\n") as plain,
        changed.open("w", encoding="utf-8", newline="\n") as other,
    ):
        for handle in (plain, other):
            handle.write(HEADER + "\n")
        same: list[str] = []
        moved: list[str] = []
        for number in range(1, rows + 1):
            line = row(number, rng, prefix)
            same.append(line)
            if number % changed_every == 0:  # the same draws, so the other rows stay
                fields = line.split(",")
                fields[4] = _changed_phone(number)
                line = ",".join(fields)
            moved.append(line)
            if len(same) == 10_000 or number == rows:
                plain.write("\n".join(same) + "\n")
                other.write("\n".join(moved) + "\n")
                same.clear()
                moved.clear()
    return feed, changed


def first_rows(feed: Path, rows: int, target: Path) -> Path:
    """The first `rows` patrons of `feed` (its header and as many lines): the very
    feed `write_feeds` writes for `rows` patrons with the same seed."""
    with feed.open("rb") as source, target.open("wb") as smaller:
        smaller.writelines(islice(source, rows + 1))
    return target
