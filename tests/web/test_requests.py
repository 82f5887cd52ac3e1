"""PolyU's book recommendations and interlibrary-loan requests (R8) on My Account, with
the list of the patron's requests and their status; libraries without them have none."""

from __future__ import annotations

import re

import pytest

from patronauth.bootstrap import App
from patronauth.domain.circulation import RequestStatus
from patronauth.services.requests import requests_of, set_request_status
from tests.support import STAFF, clock_of
from tests.web.conftest import Browser, stored
from tests.web.lending import patron_id

pytestmark = pytest.mark.anyio

PIN = "q7x2m9"


async def polyu_signed_in(browser: Browser) -> None:
    """21012345A past the forced change of the default PIN (R10)."""
    await browser.sign_in("polyu", "21012345A", "Z12345")
    changed = await browser.post(
        "/polyu/change-required", {"current": "Z12345", "new": PIN, "confirm": PIN}
    )
    assert changed.status_code == 303


async def test_a_recommendation_and_an_interlibrary_loan_request_are_sent_and_listed(
    patrons: App, browser: Browser
) -> None:
    await polyu_signed_in(browser)
    page = await browser.get("/polyu/account/requests")
    assert page.status_code == 200
    assert 'href="/polyu/account/requests" aria-current="page"' in page.text
    assert "You have sent no requests." in page.text
    assert 'href="/polyu/account/requests/recommendation"' in page.text
    assert 'href="/polyu/account/requests/interlibrary-loan"' in page.text

    form = await browser.get("/polyu/account/requests/recommendation")
    assert form.status_code == 200
    assert '<label class="field__label" for="note">' in form.text
    sent = await browser.post(
        "/polyu/account/requests/recommendation",
        {"title": "  Designing   Data-Intensive Applications ", "author": "Martin Kleppmann",
         "note": "2nd edition"},
    )  # fmt: skip
    assert sent.status_code == 303
    assert sent.headers["location"].startswith("/polyu/account/requests?submitted=")
    listed = await browser.follow(sent)
    assert "Your request for “Designing Data-Intensive Applications” has been sent" in listed.text
    assert "Book recommendation" in listed.text
    assert "Submitted" in listed.text

    clock_of(patrons).advance(60)
    loan = await browser.post(
        "/polyu/account/requests/interlibrary-loan", {"title": "紅樓夢", "author": "", "note": ""}
    )
    assert loan.status_code == 303
    (newest, oldest) = requests_of(patrons.ports, patron_id(patrons, "21012345A"))
    set_request_status(patrons.ports, newest.id, RequestStatus.IN_PROGRESS, staff=STAFF)
    listed = await browser.get("/polyu/account/requests")
    assert listed.text.index("紅樓夢") < listed.text.index("Designing")  # the newest first
    assert "Interlibrary loan request" in listed.text
    assert "In progress" in listed.text
    assert oldest.title == "Designing Data-Intensive Applications"


@pytest.mark.parametrize(
    ("fields", "messages"),
    [
        ({"title": ""}, ["Enter the title."]),
        ({"title": "   "}, ["Enter the title."]),
        ({"title": "<script>alert(1)</script>"},
         ["The title contains control characters or markup (&lt; or &gt;)."]),
        ({"title": "Dream\x00"}, ["The title contains control characters or markup"]),
        ({"title": "x" * 301, "author": "a" * 201, "note": "\x1b[2J"},
         ["The title has at most 300 characters.", "The author has at most 200 characters.",
          "The note contains control characters or markup"]),
    ],
)  # fmt: skip
async def test_a_bad_request_names_every_wrong_field_and_stores_nothing(
    patrons: App, browser: Browser, fields: dict[str, str], messages: list[str]
) -> None:
    await polyu_signed_in(browser)
    before = stored(patrons)
    for language in ("en", "zh_Hant"):
        await browser.post("/language", {"language": language, "next": "/"})
        refused = await browser.post(
            "/polyu/account/requests/recommendation",
            {"title": "Dream", "author": "", "note": "", **fields},
        )
        assert refused.status_code == 422
        assert "<script>" not in refused.text
        if language == "en":
            assert "There is a problem" in refused.text
            for message in messages:
                assert message in refused.text
            for field in fields:
                assert f'href="#{field}"' in refused.text
        else:
            assert "出現問題" in refused.text
            # The field is named in Chinese too: 書名, 作者, 備註.
            summary = re.findall(r'<li><a href="#\w+">([^<]*)</a></li>', refused.text)
            assert len(summary) == len(messages)
            assert not [s for s in summary if re.search("title|author|note", s)], summary
    assert stored(patrons) == before


async def test_sql_in_a_title_is_only_text(patrons: App, browser: Browser) -> None:
    """A title may hold quotes and semicolons; it is stored and shown as typed."""
    await polyu_signed_in(browser)
    title = "Robert'); DROP TABLE patrons;--"
    sent = await browser.post("/polyu/account/requests/recommendation", {"title": title})
    listed = await browser.follow(sent)
    assert "Robert&#39;); DROP TABLE patrons;--" in listed.text
    mine = requests_of(patrons.ports, patron_id(patrons, "21012345A"))
    assert [r.title for r in mine] == [title]
    assert len(stored(patrons)["patrons"]) == 4  # type: ignore[arg-type]


async def test_libraries_without_requests_have_no_such_pages(
    patrons: App, browser: Browser
) -> None:
    await browser.sign_in("hkpl", "HKPL0001", "4567")
    valid = "Lib#Reader2026"
    await browser.post("/hkpl/change-required", {"current": "4567", "new": valid, "confirm": valid})
    account = await browser.get("/hkpl/account")
    assert "/hkpl/account/requests" not in account.text
    before = stored(patrons)
    for path in ("requests", "requests/recommendation", "requests/interlibrary-loan"):
        assert (await browser.get(f"/hkpl/account/{path}")).status_code == 404, path
    sent = await browser.post("/hkpl/account/requests/recommendation", {"title": "Dream"})
    assert sent.status_code == 404
    assert stored(patrons) == before


async def test_an_unknown_kind_of_request_is_not_found(patrons: App, browser: Browser) -> None:
    await polyu_signed_in(browser)
    for kind in ("room-booking", "interlibrary_loan", "%3Cscript%3E"):
        assert (await browser.get(f"/polyu/account/requests/{kind}")).status_code == 404
        sent = await browser.post(f"/polyu/account/requests/{kind}", {"title": "Dream"})
        assert sent.status_code == 404
