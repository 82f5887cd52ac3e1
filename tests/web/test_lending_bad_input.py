"""SPEC 7 on the forms behind the login: renewals, reservations, the catalogue search and
PolyU's requests. Empty, 10 MB, NUL, control characters, SQL and HTML, numbers that are
not numbers or are out of range: each gets a clear error and nothing is stored."""

from __future__ import annotations

import pytest

from patronauth.bootstrap import App
from tests.web.conftest import Browser, stored
from tests.web.lending import Shelf, stock

pytestmark = pytest.mark.anyio

VALID = "Lib#Reader2026"
HTML = "<script>alert(1)</script>"
BAD = {
    "empty": "",
    "nul": "abc\x00def",
    "control": "abc\x07\x1b[2Jdef",
    "sql": "' OR '1'='1'; DROP TABLE loans; --",
    "html": HTML,
}
NOT_IDS = {
    **BAD,
    "letters": "abc",
    "zero": "0",
    "negative": "-1",
    "decimal": "1.5",
    "fullwidth": "１",
    "huge": "9" * 30,
    "past the database": str(2**63),
}
# Path segments as a browser would send them.
NOT_ID_PATHS = ["abc", "0", "-1", "1.5", "%EF%BC%91", "9" * 30, str(2**63), "1%00",
                "%27%20OR%20%271%27%3D%271", "%3Cscript%3E", str(2**63 - 1)]  # fmt: skip
TEN_MB = "x" * (10 * 1024 * 1024)


@pytest.fixture
async def shelf(patrons: App, browser: Browser) -> Shelf:
    made = stock(patrons)
    await browser.sign_in("hkpl", "HKPL0001", "4567")
    await browser.post("/hkpl/change-required", {"current": "4567", "new": VALID, "confirm": VALID})
    return made


async def test_renewing_or_cancelling_what_is_no_number_of_yours_is_not_found(
    patrons: App, shelf: Shelf, browser: Browser
) -> None:
    before = stored(patrons)
    for segment in NOT_ID_PATHS:
        renewed = await browser.post(f"/hkpl/account/loans/{segment}/renew")
        assert renewed.status_code == 404, segment
        assert "There is no such loan on your account." in renewed.text, segment
        cancelled = await browser.post(f"/hkpl/account/holds/{segment}/cancel")
        assert cancelled.status_code == 404, segment
        assert "There is no such reservation on your account." in cancelled.text, segment
        assert "<script>" not in renewed.text + cancelled.text
    assert stored(patrons) == before


async def test_a_reservation_with_a_bad_title_or_pickup_is_refused_clearly(
    patrons: App, shelf: Shelf, browser: Browser
) -> None:
    before = stored(patrons)
    for name, value in NOT_IDS.items():
        answer = await browser.post("/hkpl/account/holds", {"title": value, "pickup": "CEN"})
        assert answer.status_code == 422, name
        assert "There is no such title in the catalogue." in answer.text, name
    for name, value in {**BAD, "another library's": "PAO", "lower case": "cen"}.items():
        answer = await browser.post(
            "/hkpl/account/holds", {"title": str(shelf.on_shelf), "pickup": value}
        )
        assert answer.status_code == 422, name
        assert "Choose one of the libraries listed for collection." in answer.text, name
        assert HTML not in answer.text
    unknown = await browser.post("/hkpl/account/holds", {"title": str(2**63 - 1), "pickup": "CEN"})
    assert unknown.status_code == 404
    assert "There is no such title in the catalogue." in unknown.text
    assert stored(patrons) == before


async def test_bad_search_words_are_named_and_find_nothing(
    patrons: App, shelf: Shelf, browser: Browser
) -> None:
    before = stored(patrons)
    expected = {
        "empty": (200, "Search the catalogue"),
        "nul": (422, "The search text contains control characters or markup"),
        "control": (422, "The search text contains control characters or markup"),
        "sql": (200, "Nothing in the catalogue matches."),
        "html": (422, "The search text contains control characters or markup"),
    }
    for name, value in BAD.items():
        answer = await browser.client.get("/hkpl/account/catalogue", params={"q": value})
        status, text = expected[name]
        assert answer.status_code == status, name
        assert text in answer.text, name
        assert HTML not in answer.text
    # Ten megabytes cannot be an address (clients and servers stop far sooner): 60 KB.
    long = "x" * 60_000
    huge = await browser.client.get("/hkpl/account/catalogue", params={"q": long})
    assert huge.status_code == 422
    assert "The search text has at most 300 characters." in huge.text
    assert 'name="q" type="search" value=' not in huge.text  # not repeated in the field
    assert stored(patrons) == before


async def test_ten_megabytes_in_any_form_is_refused_before_any_page_runs(
    patrons: App, shelf: Shelf, browser: Browser
) -> None:
    before = stored(patrons)
    for path, fields in [
        (f"/hkpl/account/loans/{shelf.renewable}/renew", {"x": TEN_MB}),
        ("/hkpl/account/loans/renew-all", {"x": TEN_MB}),
        ("/hkpl/account/holds", {"title": TEN_MB, "pickup": "CEN"}),
        ("/hkpl/account/holds", {"title": str(shelf.on_shelf), "pickup": TEN_MB}),
        ("/hkpl/account/holds/1/cancel", {"x": TEN_MB}),
    ]:
        answer = await browser.post(path, fields)
        assert answer.status_code == 413, path
        assert "What you sent is too large" in answer.text
    assert stored(patrons) == before


async def test_polyu_request_fields_refuse_bad_values_clearly(
    patrons: App, browser: Browser
) -> None:
    await browser.sign_in("polyu", "21012345A", "Z12345")
    await browser.post(
        "/polyu/change-required", {"current": "Z12345", "new": "q7x2m9", "confirm": "q7x2m9"}
    )
    before = stored(patrons)
    marked = "contains control characters or markup"
    expected = {
        "title": {"empty": "Enter the title.", "nul": marked, "control": marked, "html": marked},
        "author": {"nul": marked, "control": marked, "html": marked},
        "note": {"nul": marked, "control": marked, "html": marked},
    }
    for field, cases in expected.items():
        for name, message in cases.items():
            answer = await browser.post(
                "/polyu/account/requests/interlibrary-loan", {"title": "Dream", field: BAD[name]}
            )
            assert answer.status_code == 422, (field, name)
            assert message in answer.text, (field, name)
            assert f'<a href="#{field}">' in answer.text
            assert HTML not in answer.text
        huge = await browser.post("/polyu/account/requests/recommendation", {field: TEN_MB})
        assert huge.status_code == 413
    assert stored(patrons) == before
