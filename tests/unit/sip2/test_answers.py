"""What the answers layer offers (BX) is what it answers, and the 63 summary field."""

from __future__ import annotations

import pytest

from patronauth.services.selfservice import ItemList
from patronauth.sip2.answers import SUPPORTED, Answers, summary_list
from patronauth.sip2.connection import _ALLOWED, State
from patronauth.sip2.messages import REQUESTS

# BX positions (SIP2 2.00) and the request that each stands for.
BX_REQUESTS = ("23", "11", "09", "01", "99", "97", "93", "63", "35", "37", "17", "19", "25",
               "15", "29", "65")  # fmt: skip


def test_bx_advertises_exactly_the_requests_answered() -> None:
    answers = Answers(ports=None)  # type: ignore[arg-type]
    offered = {code for code, flag in zip(BX_REQUESTS, SUPPORTED, strict=True) if flag == "Y"}
    answered = set(answers._handlers) | {"93", "97"}
    assert offered == answered == set(REQUESTS) == set(_ALLOWED[State.READY])


@pytest.mark.parametrize(
    ("summary", "wanted"),
    [
        ("          ", None),
        ("Y         ", ItemList.HOLDS),
        (" Y        ", ItemList.OVERDUE),
        ("  Y       ", ItemList.CHARGED),
        ("   Y      ", ItemList.FINES),
        ("    Y     ", ItemList.RECALL),
        ("     Y    ", ItemList.UNAVAILABLE_HOLDS),
        ("      Y   ", None),  # fee items and later: not kept by PatronAuth
        ("  YY      ", ItemList.CHARGED),  # more than one Y: the first
        ("NNYNNNNNNN", ItemList.CHARGED),
    ],
)
def test_summary(summary: str, wanted: ItemList | None) -> None:
    assert summary_list(summary) is wanted
