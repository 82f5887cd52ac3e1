"""What a reader sees, checked in a real browser: phone widths, Chinese typesetting,
results after every action, the live hints' verdict, and an accessibility check by
axe-core on every page in both languages at both sizes: My Account, PolyU's requests,
the pages reached from e-mailed links, the change steps, the error pages, the sign-on
pages of OpenID Connect and CAS, and the staff console.

These tests run against a server of their own (a fresh demo database), so that the
renewals and reservations made here do not meet the other browser tests'."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pyotp
import pytest

from tests.e2e.conftest import Mailbox, Server, serving, shot

AXE = Path(__file__).parent / "vendor" / "axe.min.js"
NARROW = {"width": 320, "height": 640}  # the narrowest phone: nothing scrolls sideways
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
LANGUAGES = {"en": "en-GB", "zh_Hant": "zh-HK"}


@pytest.fixture(scope="module")
def fresh(tmp_path_factory: pytest.TempPathFactory, smtp: Mailbox) -> Iterator[Server]:
    with serving(tmp_path_factory.mktemp("experience"), smtp) as started:
        yield started


@pytest.fixture
def open_page(browser: Any, fresh: Server) -> Iterator[Any]:
    """A factory of pages: a language (its cookie set, as the switch would) and a size.
    The Content-Security-Policy is bypassed only so that axe-core can be injected."""
    contexts: list[Any] = []

    def opened(language: str = "en", size: dict[str, int] = DESKTOP) -> Any:
        context = browser.new_context(
            base_url=fresh.url, locale=LANGUAGES[language], viewport=size, bypass_csp=True
        )
        context.set_default_timeout(10_000)
        host = fresh.url.split("//", 1)[1].split(":", 1)[0]
        context.add_cookies(
            [
                {"name": name, "value": language, "domain": host, "path": "/"}
                for name in ("patronauth-language", "patronauth-staff-language")
            ]
        )
        contexts.append(context)
        return context.new_page()

    yield opened
    for context in contexts:
        context.close()


def sign_in(page: Any, library: str, card: str, secret: str) -> None:
    page.context.clear_cookies(name="patronauth-session")  # whoever was signed in
    page.goto(f"/{library}/sign-in")
    page.locator("#identifier").fill(card)
    page.locator("#secret").fill(secret)
    page.locator("form.form button[type=submit]").click()
    page.wait_for_load_state()


def serious_violations(page: Any) -> list[str]:
    """axe-core's serious and critical findings on the page as it is now."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE))
    found = page.evaluate(
        "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
        ".filter(v => v.impact === 'serious' || v.impact === 'critical')"
        ".map(v => v.id + ': ' + v.nodes.map(n => n.target.join(' ')).join(', '))"
    )
    return [str(f) for f in found]


def sideways(page: Any) -> int:
    """How far the page scrolls sideways (0 when it fits the window)."""
    return int(
        page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    )


def problems_here(page: Any) -> list[str]:
    """axe-core at desktop and phone width, then no sideways scroll at 320 px, on the
    page as it is now (no reload: a page reached by a form is checked as well)."""
    found = []
    for name, size in (("desktop", DESKTOP), ("phone", PHONE), ("320 px", NARROW)):
        page.set_viewport_size(size)
        if size is not NARROW:
            found += [f"{name}: {v}" for v in serious_violations(page)]
        if size is not DESKTOP and (extra := sideways(page)) > 0:
            found.append(f"{name}: scrolls sideways by {extra} px")
    page.set_viewport_size(DESKTOP)
    return found


def shot_at(page: Any, size: dict[str, int], name: str) -> None:
    page.set_viewport_size(size)
    shot(page, name)
    page.set_viewport_size(DESKTOP)


def sweep(page: Any, pages: Iterator[str]) -> dict[str, list[str]]:
    """Every page `pages` leaves the browser on, and what is wrong with each."""
    problems: dict[str, list[str]] = {}
    for where in pages:
        if found := problems_here(page):
            problems[where] = found
    return problems


# Every page a reader meets, after signing in as whom (None: signed out).
PUBLIC_PAGES = [
    "/",
    "/language",
    "/hkpl",
    "/hkpl/sign-in",
    "/polyu/sign-in",
    "/hkct/sign-in",
    "/hku/sign-in",
    "/hkpl/forgot",
    "/polyu/forgot",
    "/polyu/forgot?sent=1",
    "/hkct/forgot",
    "/hku/forgot",
    "/hku/set-up",
    "/hku/set-up?sent=1",
    "/hkpl/no-such-page",
]
ACCOUNT_PAGES = [
    "/hkpl/account",
    "/hkpl/account/contact",
    "/hkpl/account/loans",
    "/hkpl/account/holds",
    "/hkpl/account/catalogue?q=the",
    "/hkpl/account/fines",
    "/hkpl/change-password",
    "/hkpl/change-pin",
    "/hkpl/sign-out",
]


def pages_of(page: Any) -> Iterator[str]:
    """My Account as a reader of HKPL meets it, and PolyU's change step."""
    for path in PUBLIC_PAGES:
        page.goto(path)
        yield path
    sign_in(page, "hkpl", "HKPL0001", "4567")  # the default: the change step only
    page.wait_for_url("**/hkpl/change-required")
    yield "/hkpl/change-required"
    sign_in(page, "hkpl", "HKPL0002", "Reading#2026")
    page.wait_for_url("**/hkpl/account")
    for path in ACCOUNT_PAGES:
        page.goto(path)
        yield path
    page.goto("/hkpl/account/holds")
    hold = page.locator("a[id^=cancel-]").first.get_attribute("href")
    page.goto(str(hold))
    yield "the confirmation before cancelling a hold"
    sign_in(page, "polyu", "21012345A", "Z12345")
    page.wait_for_url("**/polyu/change-required")
    yield "/polyu/change-required"


@pytest.mark.parametrize("language", ["en", "zh_Hant"])
def test_no_page_scrolls_sideways_at_320_px_and_axe_finds_nothing_serious(
    open_page: Any, language: str
) -> None:
    """Issue 16, items 3 and 9: every page of My Account at phone and desktop width, in
    both languages."""
    page = open_page(language)
    problems = sweep(page, pages_of(page))
    sign_in(page, "hkpl", "HKPL0002", "Reading#2026")
    page.goto("/hkpl/account/loans")
    page.set_viewport_size(NARROW)
    shot(page, f"40-hkpl-loans-320-{language}")
    assert not problems, json.dumps(problems, indent=1, ensure_ascii=False)


REDIRECT = "http://127.0.0.1:9/callback"  # never reached: the sweep stops before
POLYU_CARD, POLYU_PASSWORD = "22000017D", "Kw7mQ2z9"
READER, HOI_CHING = "axe.reader@example.org", "hc.yip@example.org"
STAFF_PASSWORD = "Counter#Desk-2026"
CONSOLE_PAGES = [
    "/staff/?q=CU1234567",
    "/staff/me",
    "/staff/audit",
    "/staff/terminals",
    "/staff/accounts",
    "/staff/go-live",
    "/staff/recheck",
    "/staff/no-such-page",
]


@dataclass(frozen=True)
class Setting:
    """What the second sweep needs made beforehand, once for both languages."""

    client_id: str  # an OpenID Connect service that asks for consent
    reset_link: str  # e-mailed by PolyU's "forgot your PIN?"
    set_up_link: str  # e-mailed by HKU's first-time set-up


@pytest.fixture(scope="module")
def setting(fresh: Server, smtp: Mailbox, browser: Any) -> Setting:
    def run(*args: str, stdin: str = "") -> str:
        done = fresh.patronauth(*args, stdin=stdin)
        assert done.returncode == 0, done.stderr
        return done.stdout

    oidc = run(
        "client", "add", "--name", "Discovery", "--protocol", "oidc", "--institution", "hkpl",
        "--redirect-uri", REDIRECT, "--reason", "axe sweep", "--json",
    )  # fmt: skip
    run(
        "client", "add", "--name", "Primo", "--protocol", "cas", "--institution", "hkpl",
        "--redirect-uri", REDIRECT, "--reason", "axe sweep",
    )  # fmt: skip
    run(
        "patron", "add", "--institution", "polyu", "--barcode", POLYU_CARD, "--id-number",
        "B765432(A)", "--email", READER,
    )  # fmt: skip
    run(
        "credential", "change", POLYU_CARD, "--institution", "polyu",
        stdin=f"B76543\n{POLYU_PASSWORD}\n{POLYU_PASSWORD}\n",
    )  # fmt: skip
    sent = {to: len([m for m in smtp.messages if m["To"] == to]) for to in (READER, HOI_CHING)}
    context = browser.new_context(base_url=fresh.url, locale="en-GB")
    page = context.new_page()
    page.goto("/polyu/forgot")
    page.locator("#email").fill(READER)
    page.locator("form.form button[type=submit]").click()
    page.wait_for_url("**/polyu/forgot?sent=1")
    page.goto("/hku/set-up")
    page.locator("#identifier").fill("CU1234567")
    page.locator("#email").fill(HOI_CHING)
    page.locator("form.form button[type=submit]").click()
    page.wait_for_url("**/hku/set-up?sent=1")
    context.close()

    def link(to: str, pattern: str) -> str:
        body = smtp.wait_for(to, sent[to] + 1)[-1].get_body(preferencelist=("plain",))
        assert body is not None
        found = re.search(re.escape(fresh.url) + pattern, str(body.get_content()))
        assert found is not None, body.get_content()
        return found.group(0)

    return Setting(
        client_id=json.loads(oidc)["client_id"],
        reset_link=link(READER, r"/polyu/reset/\S+"),
        set_up_link=link(HOI_CHING, r"/hku/set-up/\S+"),
    )


def other_pages(page: Any, server: Server, setting: Setting, language: str) -> Iterator[str]:
    """The rest: PolyU's requests, the e-mailed links, the temporary secret's change
    step, the error pages, the sign-on pages and the staff console."""
    sign_in(page, "polyu", POLYU_CARD, POLYU_PASSWORD)
    page.wait_for_url("**/polyu/account")
    for path in (
        "/polyu/account",
        "/polyu/account/requests",
        "/polyu/account/requests/recommendation",
        "/polyu/account/requests/interlibrary-loan",
    ):
        page.goto(path)
        yield path
    page.locator("form.form button[type=submit]").click()  # an empty request: refused
    page.wait_for_load_state()
    assert page.locator(".error-summary").count() == 1
    yield "an interlibrary-loan request refused"
    page.context.clear_cookies(name="patronauth-session")

    page.goto(setting.reset_link)
    assert page.locator("form.form").count() == 1
    yield "the e-mailed reset link"
    shot_at(page, NARROW, f"46-polyu-reset-link-320-{language}")
    page.goto(setting.set_up_link)
    assert page.locator("#new").count() == 1
    yield "the e-mailed first-time set-up link"

    # Error pages: 403 (a form without its CSRF token), 429 (a blocked card number).
    page.goto("/hkpl/sign-in")
    page.evaluate("document.querySelectorAll('input[name=csrftoken]').forEach(e => e.remove())")
    with page.expect_response(re.compile(r".*/hkpl/sign-in$")) as answer:
        page.locator("form.form button[type=submit]").click()
    assert answer.value.status == 403
    yield "403: a form that has expired"
    blocked = f"HKPL09{len(language):02d}"
    for _ in range(8):
        page.goto("/hkpl/sign-in")
        page.locator("#identifier").fill(blocked)
        page.locator("#secret").fill("not-the-password")
        with page.expect_response(re.compile(r".*/hkpl/sign-in$")) as answer:
            page.locator("form.form button[type=submit]").click()
        if answer.value.status == 429:
            break
    assert answer.value.status == 429
    yield "429: a card number blocked after too many attempts"

    # Sign-on: the sign-in page as a service sends readers to it, the consent page,
    # the error page (a redirect URI not registered) and the signed-out page.
    def authorize(redirect: str) -> str:
        return "/oidc/authorize?" + urlencode(
            {"response_type": "code", "client_id": setting.client_id, "redirect_uri": redirect,
             "scope": "openid profile email", "state": "s", "nonce": "n",
             "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
             "code_challenge_method": "S256"}
        )  # fmt: skip

    page.goto(authorize(REDIRECT))
    page.wait_for_url("**/hkpl/sign-in?**")
    yield "the sign-in page asked for by a service (OpenID Connect)"
    page.locator("#identifier").fill("HKPL0002")
    page.locator("#secret").fill("Reading#2026")
    page.locator("form.form button[type=submit]").click()
    page.wait_for_selector("button[name=decision]")
    yield "the consent page (OpenID Connect)"
    shot_at(page, PHONE, f"47-hkpl-consent-390-{language}")
    assert page.goto(authorize("http://elsewhere/callback")).status == 400
    yield "the sign-on error page (a redirect URI not registered)"
    assert page.goto("/cas/login?" + urlencode({"service": "http://elsewhere/"})).status == 400
    yield "the sign-on error page (CAS: a service not registered)"
    page.goto("/cas/logout")
    assert page.locator("form.form").count() == 0
    yield "signed out of every service (CAS)"

    yield from console_pages(page, server, language)


def console_pages(page: Any, server: Server, language: str) -> Iterator[str]:
    """The staff console: enrolment with an authenticator app, sign-in and its second
    factor, the desk, a patron, a temporary PIN, and the patron's change step after it."""
    login = "axe" + language.lower().replace("_", "")
    added = server.patronauth(
        "staff", "add", "--login", login, "--name", "Axe Check", "--role", "admin",
        "--reason", "axe sweep",
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    found = re.search(r"http://\S+(/staff/enrol/\S+)", added.stdout)
    assert found is not None, added.stdout
    page.goto(found.group(1))
    secret = page.locator("#totp-key").inner_text()
    yield "/staff/enrol/…"
    page.locator("input[name=password]").fill(STAFF_PASSWORD)
    page.locator("input[name=confirm]").fill(STAFF_PASSWORD)
    page.locator("input[name=code]").fill(pyotp.TOTP(secret).now())
    page.locator("#enrol-totp").click()
    page.locator("#enrolled").wait_for()
    yield "/staff/enrol/… done"
    page.goto("/staff/sign-in")
    yield "/staff/sign-in"
    page.locator("input[name=login]").fill(login)
    page.locator("input[name=password]").fill(STAFF_PASSWORD)
    page.locator("form button").first.click()
    page.wait_for_url("**/staff/second-factor")
    yield "/staff/second-factor"
    page.locator("#totp-form input[name=code]").fill(pyotp.TOTP(secret).at(time.time() + 30))
    page.locator("#totp-form button").click()
    page.wait_for_url("**/staff/")
    yield "/staff/"
    for path in CONSOLE_PAGES:
        answer = page.goto(path)
        assert answer.status == (404 if path.endswith("no-such-page") else 200), path
        yield path
    page.goto("/staff/?q=CU1234567")
    page.locator("#hits a").first.click()
    page.wait_for_url("**/staff/patrons/*")
    yield "/staff/patrons/…"
    page.locator("#reset select[name=credential]").select_option("pin")
    page.locator("#reset input[name=reason]").fill("checking the pages")
    page.locator("#reset button").click()
    temporary = page.locator("#temporary").inner_text()
    yield "a temporary PIN handed out at the counter"
    sign_in(page, "hku", "CU1234567", temporary)
    page.wait_for_url("**/hku/change-required")
    yield "/hku/change-required after a temporary PIN"
    shot_at(page, PHONE, f"48-hku-temporary-change-390-{language}")


@pytest.mark.parametrize("language", ["en", "zh_Hant"])
def test_every_other_page_and_the_staff_console_axe_finds_nothing_serious(
    open_page: Any, fresh: Server, setting: Setting, language: str
) -> None:
    """Issue 16, item 9: the pages the first sweep does not reach, in both languages at
    phone and desktop width, none scrolling sideways at 320 px."""
    page = open_page(language)
    problems = sweep(page, other_pages(page, fresh, setting, language))
    page.goto("/staff/?q=CU1234567")
    page.locator("#hits a").first.click()
    page.set_viewport_size(PHONE)
    shot(page, f"45-staff-patron-390-{language}")
    assert not problems, json.dumps(problems, indent=1, ensure_ascii=False)


def test_chinese_buttons_and_dates_do_not_break_on_a_phone(open_page: Any) -> None:
    """Issue 16, item 4: 續借 and 取消 stay on one line; 2026年11月30日 is never split."""
    page = open_page("zh_Hant", {"width": 360, "height": 740})
    sign_in(page, "hkpl", "HKPL0002", "Reading#2026")
    page.wait_for_url("**/hkpl/account")
    for path in ("/hkpl/account/loans", "/hkpl/account/holds", "/hkpl/account/fines"):
        page.goto(path)
        broken = page.evaluate(
            """() => [...document.querySelectorAll('.button, button, .unbroken')]
                .filter(e => e.offsetParent !== null && e.getClientRects().length > 0)
                .filter(e => {
                    const lines = new Set([...e.getClientRects()].map(r => Math.round(r.top)));
                    const style = getComputedStyle(e);
                    const line = parseFloat(style.lineHeight) || parseFloat(style.fontSize) * 1.5;
                    const inner = e.getBoundingClientRect().height
                        - parseFloat(style.paddingTop) - parseFloat(style.paddingBottom)
                        - parseFloat(style.borderTopWidth) - parseFloat(style.borderBottomWidth);
                    return lines.size > 1 || inner > line * 1.5;
                })
                .map(e => e.textContent.trim())"""
        )
        assert broken == [], (path, broken)
        dates = page.locator(".unbroken").all_inner_texts()
        assert any(re.fullmatch(r"\d{4}年\d{1,2}月\d{1,2}日", d) for d in dates), dates
    shot(page, "41-hkpl-fines-zh-360")


def test_renew_all_redirects_to_its_report_and_says_where_the_fine_went(
    open_page: Any,
) -> None:
    """Issue 16, items 2 and 5: reloading the report renews nothing again; the overdue
    loan's fine is said to have moved to Fines, where its line names the title."""
    page = open_page()
    sign_in(page, "hkpl", "HKPL0002", "Reading#2026")
    page.wait_for_url("**/hkpl/account")
    page.goto("/hkpl/account/loans")
    rule = page.locator("main p.quiet").first.inner_text()
    assert "or from today if it is overdue" in rule  # the rule renew() applies

    def due(title: str) -> str:
        row = page.locator("tbody tr").filter(has=page.locator(".item-title", has_text=title))
        return str(row.locator("td").first.inner_text())

    dream_before = due("Dream of the Red Chamber")
    answer = None
    with page.expect_response(re.compile(r".*/renew-all$")) as posted:
        page.get_by_role("button", name="Renew all").click()
    answer = posted.value
    assert answer.status == 303  # the POST answers with a redirect (PRG)
    page.wait_for_url(re.compile(r".*/hkpl/account/loans\?report=.+"))
    notice = page.locator("[role=status]").inner_text()
    assert "Renewed 2 of 3 loans." in notice
    assert "Water Margin was overdue: its fine so far, HK$" in notice
    assert "is now listed under Fines" in notice
    reason = "Another reader has reserved this item, so it cannot be renewed."
    assert reason in page.locator(".error-summary").inner_text()
    dream_after = due("Dream of the Red Chamber")
    assert dream_after != dream_before
    shot(page, "42-hkpl-renew-all-report")

    page.reload()  # a reload shows the same report and renews nothing
    assert "Renewed 2 of 3 loans." in page.locator("[role=status]").inner_text()
    assert due("Dream of the Red Chamber") == dream_after

    page.get_by_role("link", name="See your fines").click()
    page.wait_for_url("**/hkpl/account/fines")
    lines = page.locator("#fines-title + table tbody tr").all_inner_texts()
    assert any("Overdue item: Water Margin" in line for line in lines), lines
    shot(page, "43-hkpl-fines-with-titles")


def test_a_forged_report_address_shows_only_known_reasons_for_own_loans(
    open_page: Any,
) -> None:
    page = open_page()
    sign_in(page, "hkpl", "HKPL0002", "Reading#2026")
    page.wait_for_url("**/hkpl/account")
    page.goto("/hkpl/account/loans?report=1~renewal.nonsense,999999,2~renewal.<b>")
    assert page.locator("[role=status]").inner_text().strip() == "Renewed 0 of 0 loans."
    assert page.locator(".error-summary").count() == 0


def test_live_hints_and_the_change_give_the_same_verdict(open_page: Any, fresh: Server) -> None:
    """Issue 16, item 1: the hints know the patron's card number and name."""
    added = fresh.patronauth(
        "patron", "add", "--institution", "hkpl", "--barcode", "HKPL0300", "--name",
        "Mok Wing Sze", "--phone", "9123 4567",
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    page = open_page()
    sign_in(page, "hkpl", "HKPL0300", "4567")
    page.wait_for_url("**/hkpl/change-required")
    hints = page.locator("#new-hints")
    for secret, reason in (
        ("HKPL0300Aa!", "must not contain your card number"),
        ("Wingsze#2026", "must not contain your name"),
    ):
        page.locator("#new").fill(secret)
        page.wait_for_selector("#new-hints li")
        assert reason in hints.inner_text()
        page.locator("#current").fill("4567")
        page.locator("#confirm").fill(secret)
        page.locator("form.form button[type=submit]").click()
        page.wait_for_url("**/hkpl/change-required")
        assert reason in page.locator(".error-summary").inner_text()
    shot(page, "44-hkpl-live-hints-card-number")
    page.locator("#new").fill("Quiet!Stacks22")
    page.wait_for_selector("#new-hints .live-hints__ok")


def test_the_set_up_pages_hints_and_its_submit_refuse_the_card_number_alike(
    open_page: Any, fresh: Server, smtp: Mailbox
) -> None:
    """Issue 16: the page of an e-mailed set-up link checks against the link, so the
    hints know the patron's card number before the submit does."""
    added = fresh.patronauth(
        "patron", "add", "--institution", "hkpl", "--barcode", "HKPL0301", "--name",
        "Lam Ka Yee", "--email", "ka-yee.lam@example.org",
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    page = open_page()
    page.goto("/hkpl/set-up")
    page.locator("#identifier").fill("HKPL0301")
    page.locator("#email").fill("ka-yee.lam@example.org")
    page.locator("form.form button[type=submit]").click()
    page.wait_for_url("**/hkpl/set-up?sent=1")
    (mail,) = smtp.wait_for("ka-yee.lam@example.org")
    body = mail.get_body(preferencelist=("plain",))
    assert body is not None
    link = re.search(r"https?://\S+/hkpl/set-up/[A-Za-z0-9_-]+", str(body.get_content()))
    assert link is not None
    page.goto(link.group(0))
    reason = "must not contain your card number"
    page.locator("#new").fill("HKPL0301Aa!")
    page.wait_for_selector("#new-hints li")
    assert reason in page.locator("#new-hints").inner_text()
    shot(page, "45-hkpl-set-up-hints-card-number")
    page.locator("#confirm").fill("HKPL0301Aa!")
    page.locator("form.form button[type=submit]").click()
    page.wait_for_load_state()
    assert reason in page.locator(".error-summary").inner_text()
    page.locator("#new").fill("Quiet!Stacks22")
    page.wait_for_selector("#new-hints .live-hints__ok")


def test_the_session_policy_check_refuses_a_visitor_without_a_session(
    open_page: Any,
) -> None:
    page = open_page()
    page.goto("/hkpl/sign-in")
    token = page.locator("input[name=csrftoken]").first.get_attribute("value")
    answer = page.request.post(
        "/hkpl/policy-check",
        form={"csrftoken": str(token), "credential": "password", "secret": "HKPL0001Aa!"},
    )
    assert answer.status == 401
    assert answer.json() == {"error": "session.missing"}


def test_e_mail_links_follow_the_address_serve_was_given_in_the_page_language(
    browser: Any, smtp: Mailbox, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Issue 16, item 7: without PATRONAUTH_PUBLIC_URL the reset link names the port
    `serve` listens on; the e-mail is in the language of the page it was asked from;
    `serve` warns when the setting and its address differ."""
    with serving(tmp_path_factory.mktemp("bare"), smtp, public_url=False) as bare:
        added = bare.patronauth(
            "patron", "add", "--institution", "polyu", "--barcode", "22000009C", "--id-number",
            "A123456(3)", "--email", "siu-ling.ip@example.org",
        )  # fmt: skip
        assert added.returncode == 0, added.stderr
        context = browser.new_context(base_url=bare.url, locale="zh-HK")
        page = context.new_page()
        page.goto("/polyu/forgot")
        assert page.locator("html").get_attribute("lang") == "zh-Hant-HK"
        page.locator("#email").fill("siu-ling.ip@example.org")
        page.locator("form.form button[type=submit]").click()
        page.wait_for_url("**/polyu/forgot?sent=1")
        (mail,) = smtp.wait_for("siu-ling.ip@example.org")
        body = mail.get_body(preferencelist=("plain",))
        assert body is not None
        text = str(body.get_content())
        assert re.search(re.escape(bare.url) + r"/polyu/reset/\S+", text), text
        assert re.search(r"[\u4e00-\u9fff]", str(mail["Subject"])), mail["Subject"]
        context.close()
        assert bare.log is not None
        assert "PATRONAUTH_PUBLIC_URL is" not in bare.log.read_text("utf-8")

    elsewhere = "https://library.example.org"
    home = tmp_path_factory.mktemp("proxied")
    with serving(home, smtp, public_url=False, PATRONAUTH_PUBLIC_URL=elsewhere) as proxied:
        assert proxied.log is not None
        said = proxied.log.read_text("utf-8")
    assert f"PATRONAUTH_PUBLIC_URL is {elsewhere} but serve listens at {proxied.url}" in said
