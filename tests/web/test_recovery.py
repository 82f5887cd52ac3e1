"""Forgotten secrets and first-time set-up on the web: R7 (HKPL, a temporary password
by e-mail), R14 (PolyU, a link back to the default PIN), R18/R24 (staff only), R23
(HKU, set up the PIN through a link), S4 (one answer, found or not)."""

from __future__ import annotations

import re
from datetime import date

import httpx
import pytest

from patronauth.bootstrap import App
from patronauth.presentation.http import Message, Receive, Scope, Send
from patronauth.web import create_web
from tests.support import register
from tests.web.conftest import Browser, link_in, mails, stored, text_of

pytestmark = pytest.mark.anyio

VALID = "Lib#Reader2026"


async def test_hkpl_forgot_password_mails_a_temporary_password(
    patrons: App, browser: Browser
) -> None:
    page = await browser.get("/hkpl/forgot")
    assert "Registered e-mail address" in page.text
    assert "in person at a library" in page.text  # R7: no registered e-mail address
    assert "any Hong Kong Public Library counter" in page.text

    sent = await browser.post("/hkpl/forgot", {"email": " Chan@Example.org "})
    assert sent.headers["location"] == "/hkpl/forgot?sent=1"
    answer = await browser.follow(sent)
    assert "If the details match a library account" in answer.text
    (mail,) = mails(patrons)
    assert mail["To"] == "chan@example.org"
    found = re.search(r"is: (\S+)", text_of(mail))
    assert found is not None
    temporary = found.group(1)

    signed = await browser.sign_in("hkpl", "HKPL0001", temporary)
    assert signed.headers["location"] == "/hkpl/change-required"  # S5
    page = await browser.follow(signed)
    assert "You signed in with a temporary online password." in page.text
    done = await browser.post(
        "/hkpl/change-required", {"current": temporary, "new": VALID, "confirm": VALID}
    )
    assert done.headers["location"] == "/hkpl/account?changed=password"


async def test_the_answer_is_the_same_whether_or_not_the_address_is_known(
    patrons: App, browser: Browser
) -> None:
    known = await browser.follow(await browser.post("/hkpl/forgot", {"email": "chan@example.org"}))
    unknown = await browser.follow(
        await browser.post("/hkpl/forgot", {"email": "nobody@example.org"})
    )
    assert known.status_code == unknown.status_code == 200
    assert known.text == unknown.text
    assert len(mails(patrons)) == 1


@pytest.mark.parametrize(
    ("library", "credential", "contact"),
    [
        ("hkct", "password", "phone 2265 6918, e-mail lib@hkct.edu.hk"),
        ("hku", "PIN", "Lending Services Counter of the Main Library"),
    ],
)
async def test_where_only_staff_reset_the_page_says_so_with_the_contact_text(
    patrons: App, browser: Browser, library: str, credential: str, contact: str
) -> None:
    page = await browser.get(f"/{library}/forgot")
    assert f"Your {credential} can be reset only by library staff." in page.text
    assert contact in page.text
    assert 'name="email"' not in page.text
    before = stored(patrons)
    await browser.post(f"/{library}/forgot", {"email": "hc.yip@example.org"})
    assert stored(patrons) == before
    assert mails(patrons) == []


async def test_polyu_reset_link_returns_the_pin_to_the_default(
    patrons: App, browser: Browser
) -> None:
    await browser.sign_in("polyu", "21012345A", "Z12345")
    await browser.post(
        "/polyu/change-required", {"current": "Z12345", "new": "q7x2m9", "confirm": "q7x2m9"}
    )
    await browser.post("/polyu/sign-out")

    await browser.post("/polyu/forgot", {"email": "ka-yan.wong@example.org"})
    (mail,) = [m for m in mails(patrons) if "/polyu/reset/" in text_of(m)]
    link = link_in(mail)
    assert re.fullmatch(r"/polyu/reset/[A-Za-z0-9_-]+", link)

    page = await browser.get(link)  # opening the link changes nothing
    assert "first 6 letters and digits of your HKID, passport or mainland ID number" in page.text
    assert (await browser.sign_in("polyu", "21012345A", "q7x2m9")).status_code == 303
    await browser.post("/polyu/sign-out")

    done = await browser.post(link)
    assert done.status_code == 200
    assert "Your PIN is back to the default" in done.text
    assert (await browser.sign_in("polyu", "21012345A", "q7x2m9")).status_code == 422
    signed = await browser.sign_in("polyu", "21012345A", "Z12345")
    assert signed.headers["location"] == "/polyu/change-required"
    await browser.post("/polyu/sign-out")

    again = await browser.post(link)  # one time only
    assert again.status_code == 404
    assert "This link has been used or has expired." in again.text


async def test_hku_first_time_set_up_through_the_e_mailed_link(
    patrons: App, browser: Browser
) -> None:
    page = await browser.get("/hku/sign-in")
    assert 'href="/hku/set-up"' in page.text
    asked = await browser.post(
        "/hku/set-up", {"identifier": "cu 1234567", "email": "HC.Yip@example.org"}
    )
    assert asked.headers["location"] == "/hku/set-up?sent=1"
    assert (
        "If the details match an account that has no PIN yet" in (await browser.follow(asked)).text
    )
    (mail,) = mails(patrons)
    link = link_in(mail)
    assert re.fullmatch(r"/hku/set-up/[A-Za-z0-9_-]+", link)

    form = await browser.get(link)
    assert "10 to 20 characters" in form.text  # R22, from the profile
    weak = await browser.post(link, {"new": "abcdefghij", "confirm": "abcdefghij"})
    assert weak.status_code == 422
    assert "at least 2 of these 3 kinds" in weak.text
    done = await browser.post(link, {"new": "Reading!Room42", "confirm": "Reading!Room42"})
    assert done.status_code == 200
    assert "Your PIN is set up" in done.text
    signed = await browser.sign_in("hku", "CU1234567", "Reading!Room42")
    assert signed.headers["location"] == "/hku/account"
    await browser.post("/hku/sign-out")
    assert (await browser.get(link)).status_code == 404  # used up


async def test_set_up_is_offered_at_every_library_for_patrons_without_a_default(
    app: App, browser: Browser
) -> None:
    """R23 at HKU; elsewhere for patrons registered without one (HKPL without a phone,
    PolyU before 2013-06-01, HKCT with a passport)."""
    for library in ("hkpl", "polyu", "hkct", "hku"):
        assert (await browser.get(f"/{library}/set-up")).status_code == 200
        assert f'href="/{library}/set-up"' in (await browser.get(f"/{library}/sign-in")).text


async def test_polyu_patron_registered_before_june_2013_sets_up_the_pin_by_email(
    app: App, browser: Browser
) -> None:
    register(app, "polyu", "12012345A", email="early@example.org", registered_on=date(2012, 9, 3))
    assert (await browser.sign_in("polyu", "12012345A", "Z12345")).status_code == 422
    asked = await browser.post(
        "/polyu/set-up", {"identifier": "12012345A", "email": "early@example.org"}
    )
    assert asked.headers["location"] == "/polyu/set-up?sent=1"
    (mail,) = mails(app)
    link = link_in(mail)
    assert re.fullmatch(r"/polyu/set-up/[A-Za-z0-9_-]+", link)
    done = await browser.post(link, {"new": "q7x2m9", "confirm": "q7x2m9"})
    assert done.status_code == 200
    assert "Your PIN is set up" in done.text
    signed = await browser.sign_in("polyu", "12012345A", "q7x2m9")
    assert signed.headers["location"] == "/polyu/account"


async def test_a_link_of_one_library_does_not_work_at_another(
    patrons: App, browser: Browser
) -> None:
    await browser.post("/polyu/forgot", {"email": "ka-yan.wong@example.org"})
    (mail,) = mails(patrons)
    token = link_in(mail).rsplit("/", 1)[1]
    assert (await browser.get(f"/hkpl/reset/{token}")).status_code == 404
    assert (await browser.get(f"/polyu/set-up/{token}")).status_code == 404


class AnsweredFirst:
    """The web pages, noting what had been stored and mailed at the moment the whole
    answer (its last body message) was handed to the server."""

    def __init__(self, app: App) -> None:
        self.app = app
        self.web = create_web(app)
        self.at_answer: list[tuple[object, int]] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def noting(message: Message) -> None:
            if message["type"] == "http.response.body" and not message.get("more_body"):
                self.at_answer.append((stored(self.app), len(mails(self.app))))
            await send(message)

        await self.web(scope, receive, noting)


@pytest.mark.parametrize(
    ("path", "fields"),
    [
        ("/hkpl/forgot", {"email": "chan@example.org"}),
        ("/hku/set-up", {"identifier": "CU1234567", "email": "hc.yip@example.org"}),
    ],
)
async def test_the_pages_answer_before_any_work_is_done(
    patrons: App, path: str, fields: dict[str, str]
) -> None:
    """S4: the answer goes out before the patron is looked up, so its timing cannot
    tell whether the address is registered; the work is done afterwards."""
    wrapped = AnsweredFirst(patrons)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=wrapped), base_url="https://testserver"
    ) as client:
        form = await client.get(path)
        token = re.search(r'name="csrftoken" value="([^"]+)"', form.text)
        assert token is not None
        before = stored(patrons)
        wrapped.at_answer.clear()
        sent = await client.post(path, data={**fields, "csrftoken": token.group(1)})
    assert sent.status_code == 303
    assert wrapped.at_answer == [(before, 0)]  # nothing done when the answer left
    assert stored(patrons) != before  # and then the work was done
    assert len(mails(patrons)) == 1


async def _set_up_link(app: App, browser: Browser) -> str:
    await browser.post("/hku/set-up", {"identifier": "CU1234567", "email": "hc.yip@example.org"})
    (mail,) = mails(app)
    return link_in(mail)


async def test_the_set_up_pages_hints_know_the_patrons_words_and_agree_with_the_submit(
    patrons: App, browser: Browser
) -> None:
    """Issue 16: the hints of the e-mailed link's page are bound to the link, so they
    refuse the card number as the set-up itself does."""
    link = await _set_up_link(patrons, browser)
    form = await browser.get(link)
    assert f'data-policy-check="{link}/policy-check" data-credential="pin">' in form.text
    with_card = "cu1234567Read!"
    hint = await browser.post(f"{link}/policy-check", {"credential": "pin", "secret": with_card})
    assert hint.status_code == 200
    assert hint.headers["cache-control"] == "no-store"
    body = hint.json()
    assert body["ok"] is False
    codes = [v["code"] for v in body["violations"]]
    assert codes == ["pin.contains_barcode"]
    assert "CU1234567" not in hint.text.upper()  # names the rule, never the data
    submitted = await browser.post(link, {"new": with_card, "confirm": with_card})
    assert submitted.status_code == 422
    assert body["violations"][0]["message"] in submitted.text
    fine = await browser.post(f"{link}/policy-check", {"credential": "pin", "secret": VALID})
    assert fine.json() == {"ok": True, "violations": []}
    assert (await browser.get(link)).status_code == 200  # nothing was used up


@pytest.mark.parametrize(
    "path",
    [
        "/hku/set-up/{wrong}/policy-check",  # no such link
        "/hkpl/set-up/{token}/policy-check",  # another library's link
        "/hku/set-up/short/policy-check",  # not a link's form
    ],
)
async def test_the_set_up_policy_check_answers_only_the_holder_of_the_link(
    patrons: App, browser: Browser, path: str
) -> None:
    token = (await _set_up_link(patrons, browser)).rsplit("/", 1)[1]
    wrong = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    answer = await browser.post(
        path.format(token=token, wrong=wrong), {"credential": "pin", "secret": "cu1234567Read!"}
    )
    assert answer.status_code == 404
    assert answer.json() == {"error": "link.invalid"}


async def test_the_set_up_policy_check_wants_the_forms_csrf_token(
    patrons: App, browser: Browser
) -> None:
    link = await _set_up_link(patrons, browser)
    answer = await browser.post(f"{link}/policy-check", {"secret": "x"}, csrf=False)
    assert answer.status_code == 403


async def test_the_counters_temporary_pin_leads_to_a_change_page_whose_hints_know_the_card(
    patrons: App, browser: Browser
) -> None:
    """The change page after a temporary PIN from the counter checks with the session,
    so the hints and the change refuse the card number with the same rule."""
    from patronauth.services.credentials import reset_credential
    from tests.support import STAFF

    temporary = reset_credential(patrons.ports, "CU1234567", None, staff=STAFF).temporary
    assert temporary is not None
    signed = await browser.sign_in("hku", "CU1234567", temporary)
    assert signed.headers["location"] == "/hku/change-required"
    page = await browser.follow(signed)
    assert 'data-policy-check="/hku/policy-check" data-credential="pin">' in page.text
    with_card = "cu1234567Read!"
    hint = await browser.post("/hku/policy-check", {"credential": "pin", "secret": with_card})
    assert [v["code"] for v in hint.json()["violations"]] == ["pin.contains_barcode"]
    refused = await browser.post(
        "/hku/change-required", {"current": temporary, "new": with_card, "confirm": with_card}
    )
    assert refused.status_code == 422
    assert hint.json()["violations"][0]["message"] in refused.text
