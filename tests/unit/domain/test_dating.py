"""Effective dating: which version applies on a day, and whether versions overlap."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pytest

from patronauth.domain.dating import applies, overlapping, version_on


@dataclass(frozen=True)
class Version:
    name: str
    effective_from: date | None = None
    effective_until: date | None = None


OLD = Version("old", effective_until=date(2021, 12, 31))
NEW = Version("new", effective_from=date(2022, 1, 1))
Y2020 = Version("2020", date(2020, 1, 1), date(2020, 12, 31))
FROM_2022 = Version("from 2022", effective_from=date(2022, 1, 1))


@pytest.mark.parametrize(
    ("versions", "day", "expected"),
    [
        ([OLD, NEW], date(1900, 1, 1), "old"),
        ([OLD, NEW], date(2021, 12, 31), "old"),
        ([OLD, NEW], date(2022, 1, 1), "new"),
        ([OLD, NEW], date(2100, 1, 1), "new"),
        ([NEW, OLD], date(2021, 6, 1), "old"),
        ([Y2020, FROM_2022], date(2019, 12, 31), None),
        ([Y2020, FROM_2022], date(2020, 1, 1), "2020"),
        ([Y2020, FROM_2022], date(2020, 12, 31), "2020"),
        ([Y2020, FROM_2022], date(2021, 6, 1), None),
        ([Y2020, FROM_2022], date(2022, 1, 1), "from 2022"),
        ([Version("always")], date(2000, 1, 1), "always"),
        ([], date(2022, 1, 1), None),
    ],
)
def test_version_on(versions: list[Version], day: date, expected: str | None) -> None:
    found = version_on(versions, day)
    assert (found.name if found else None) == expected


@pytest.mark.parametrize(
    ("version", "day", "expected"),
    [
        (Y2020, date(2019, 12, 31), False),
        (Y2020, date(2020, 1, 1), True),
        (Y2020, date(2020, 12, 31), True),
        (Y2020, date(2021, 1, 1), False),
        (OLD, date(1, 1, 1), True),
        (NEW, date(9999, 12, 31), True),
    ],
)
def test_both_ends_of_a_period_are_inclusive(version: Version, day: date, expected: bool) -> None:
    assert applies(version, day) is expected


def v(start: str | None, end: str | None) -> Version:
    return Version(
        f"{start}..{end}",
        date.fromisoformat(start) if start else None,
        date.fromisoformat(end) if end else None,
    )


@pytest.mark.parametrize(
    ("versions", "expected"),
    [
        ([], False),
        ([v(None, None)], False),
        ([v(None, "2021-12-31"), v("2022-01-01", None)], False),
        ([v("2022-01-01", None), v(None, "2021-12-31")], False),
        ([v("2020-01-01", "2020-06-30"), v("2021-01-01", None)], False),
        (
            [v("2020-01-01", "2020-12-31"), v("2021-01-01", "2021-12-31"), v("2022-01-01", None)],
            False,
        ),
        ([v(None, "2022-01-01"), v("2022-01-01", None)], True),
        ([v(None, None), v(None, None)], True),
        ([v(None, None), v("2022-01-01", None)], True),
        ([v("2022-01-01", None), v(None, "2022-06-30")], True),
        ([v("2020-01-01", "2025-12-31"), v("2021-01-01", "2021-01-31")], True),
        (
            [v("2020-01-01", "2020-12-31"), v("2021-01-01", "2021-12-31"), v("2021-06-01", None)],
            True,
        ),
    ],
)
def test_overlapping(versions: list[Version], expected: bool) -> None:
    assert overlapping(versions) is expected
