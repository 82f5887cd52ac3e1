"""SPEC 7, bad input on every form of the pages: each answered with a clear error and
nothing stored. Empty, 10 MB, NUL, control characters, SQL and HTML, in every field."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import pytest

from patronauth.bootstrap import App
from patronauth.services.resets import ResetRequest, request_setup
from tests.web.conftest import Browser, link_in, mails, stored

pytestmark = pytest.mark.anyio

VALID = "Lib#Reader2026"
HTML = "<script>alert(1)</script>"
BAD = {
    "empty": "",
    "nul": "abc\x00def",
    "control": "abc\x07\x1b[2Jdef",
    "sql": "' OR '1'='1'; DROP TABLE patrons; --",
    "html": HTML,
}
TEN_MB = "x" * (10 * 1024 * 1024)
CARD_CHARACTERS = "A card number contains only letters, digits and the signs"
CONTROL = "contains a control character"
NOT_EMAIL = "This is not an e-mail address."


async def _nothing(browser: Browser) -> str:
    return ""


async def _forced(browser: Browser) -> str:
    await browser.sign_in("hkpl", "HKPL0001", "4567")
    return ""


async def _full(browser: Browser) -> str:
    await browser.sign_in("hkpl", "HKPL0001", "4567")
    await browser.post("/hkpl/change-required", {"current": "4567", "new": VALID, "confirm": VALID})
    return ""


async def _setup_link(browser: Browser) -> str:
    request_setup(
        browser.app.ports,
        ResetRequest("CU1234567", "hc.yip@example.org", source="test", institution="hku"),
    )
    (mail,) = mails(browser.app)
    return link_in(mail)


@dataclass(frozen=True)
class Case:
    name: str
    path: str
    valid: dict[str, str]
    expect: dict[str, dict[str, str | None]]  # field -> bad value -> message (None: any)
    setup: Callable[[Browser], Awaitable[str]] = _nothing  # may give the path


def secret_field(empty: str, wrong: str) -> dict[str, str | None]:
    return {"empty": empty, "nul": CONTROL, "control": CONTROL, "sql": wrong, "html": wrong}


def new_field(label: str) -> dict[str, str | None]:
    # SQL and HTML may even pass a policy; then the confirmation differs. Any error will do.
    return {"empty": f"Enter a new {label}.", "nul": CONTROL, "control": CONTROL,
            "sql": None, "html": None}  # fmt: skip


def confirm_field(label: str) -> dict[str, str | None]:
    mismatch = "The two new entries are not the same."
    return {"empty": f"Enter the new {label} again.",
            **dict.fromkeys(BAD.keys() - {"empty"}, mismatch)}  # fmt: skip


IDENTIFIER: dict[str, str | None] = {
    "empty": "Enter your library card number.",
    **dict.fromkeys(BAD.keys() - {"empty"}, CARD_CHARACTERS),
}
EMAIL: dict[str, str | None] = {
    "empty": "Enter your e-mail address.",
    **dict.fromkeys(BAD.keys() - {"empty"}, NOT_EMAIL),
}

CASES = [
    Case(
        "sign-in",
        "/hkpl/sign-in",
        {"identifier": "HKPL0001", "secret": "4567"},
        {
            "identifier": IDENTIFIER,
            "secret": secret_field("Enter your online password.", "is not correct"),
        },
    ),
    Case(
        "forced change",
        "/hkpl/change-required",
        {"current": "4567", "new": VALID, "confirm": VALID},
        {
            "current": secret_field(
                "Enter your current online password.",
                "Your current online password is not correct.",
            ),
            "new": new_field("online password"),
            "confirm": confirm_field("online password"),
        },
        _forced,
    ),
    Case(
        "change PIN",
        "/hkpl/change-pin",
        {"current": "4567", "new": "2046", "confirm": "2046"},
        {
            "current": secret_field("Enter your current PIN.", "Your current PIN is not correct."),
            "new": new_field("PIN"),
            "confirm": confirm_field("PIN"),
        },
        _full,
    ),
    Case("forgot password", "/hkpl/forgot", {"email": "chan@example.org"}, {"email": EMAIL}),
    Case(
        "set-up request",
        "/hku/set-up",
        {"identifier": "CU1234567", "email": "hc.yip@example.org"},
        {"identifier": IDENTIFIER, "email": EMAIL},
    ),
    Case(
        "set-up link",
        "",
        {"new": "Reading!Room42", "confirm": "Reading!Room42"},
        {"new": new_field("PIN"), "confirm": confirm_field("PIN")},
        _setup_link,
    ),
]
FIELDS = [(case, field) for case in CASES for field in case.expect]


@pytest.mark.parametrize(("case", "field"), FIELDS, ids=[f"{c.name}-{f}" for c, f in FIELDS])
async def test_every_bad_value_in_every_field_gets_a_clear_error_and_stores_nothing(
    patrons: App, browser: Browser, case: Case, field: str
) -> None:
    path = await case.setup(browser) or case.path
    before = stored(patrons)
    session = browser.session
    for name, value in BAD.items():
        answer = await browser.post(path, {**case.valid, field: value})
        assert answer.status_code == 422, (name, answer.text)
        assert "There is a problem" in answer.text, name
        expected = case.expect[field][name]
        if expected is not None:
            assert expected in answer.text, (name, field)
        assert HTML not in answer.text  # autoescaped wherever it is shown
        assert stored(patrons) == before, name
        assert browser.session == session


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
async def test_ten_megabytes_in_any_field_is_refused_before_any_page_runs(
    patrons: App, browser: Browser, case: Case
) -> None:
    path = await case.setup(browser) or case.path
    before = stored(patrons)
    for field in case.expect:
        answer = await browser.post(path, {**case.valid, field: TEN_MB})
        assert answer.status_code == 413
        assert "What you sent is too large" in answer.text
        assert stored(patrons) == before


async def test_a_body_that_is_not_utf8_or_not_a_form_is_refused(
    patrons: App, browser: Browser
) -> None:
    token = await browser.token()
    before = stored(patrons)
    form = {"content-type": "application/x-www-form-urlencoded"}
    for body in (
        b"identifier=HKPL0001&secret=\xff\xfe&csrftoken=" + token.encode(),
        b"identifier=HKPL0001&secret=%FF%FE&csrftoken=" + token.encode(),
        b"&".join(b"f%d=1" % n for n in range(100)),
    ):
        answer = await browser.client.post("/hkpl/sign-in", content=body, headers=form)
        assert answer.status_code == 400
        assert "What you sent could not be read" in answer.text
    answer = await browser.client.post(
        "/hkpl/sign-in", json={"identifier": "HKPL0001", "secret": "4567", "csrftoken": token}
    )
    assert answer.status_code == 415
    assert stored(patrons) == before
    assert browser.session is None


async def test_a_bad_one_time_link_is_a_clear_page(patrons: App, browser: Browser) -> None:
    for token in ("short", "x" * 200, "AAAAAAAAAAAAAAAAAAAAAA", "%3Cscript%3E" * 3):
        for path in (f"/polyu/reset/{token}", f"/hku/set-up/{token}"):
            page = await browser.get(path)
            assert page.status_code == 404, path
            assert "This link has been used or has expired." in page.text
            acted = await browser.post(path, {"new": "Reading!Room42", "confirm": "x"})
            assert acted.status_code == 404, path
