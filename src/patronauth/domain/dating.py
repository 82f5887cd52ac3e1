"""Effective dating: which of several dated versions applies on a given day."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from itertools import pairwise
from typing import Protocol, TypeVar


class Dated(Protocol):
    @property
    def effective_from(self) -> date | None: ...

    @property
    def effective_until(self) -> date | None: ...


D = TypeVar("D", bound=Dated)


def applies(item: Dated, day: date) -> bool:
    starts = item.effective_from is None or item.effective_from <= day
    ends = item.effective_until is None or day <= item.effective_until
    return starts and ends


def version_on(items: Sequence[D], day: date) -> D | None:
    """The one version in force on `day` (profiles are checked not to overlap)."""
    for item in items:
        if applies(item, day):
            return item
    return None


def overlapping(items: Sequence[Dated]) -> bool:
    ordered = sorted(items, key=lambda i: i.effective_from or date.min)
    for before, after in pairwise(ordered):
        end = before.effective_until or date.max
        start = after.effective_from or date.min
        if start <= end:
            return True
    return False
