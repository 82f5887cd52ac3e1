"""What a reader sees, checked in a real browser: phone widths, Chinese typesetting,
results after every action, the live hints' verdict, and an accessibility check by
axe-core on every page in both languages at both sizes.

These tests run against a server of their own (a fresh demo database), so that the
renewals and reservations made here do not meet the other browser tests'."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import Mailbox, Server, serving, shot

AXE = Path(__file__).parent / "vendor" / "axe.min.js"
PHONE = {"width": 320, "height": 640}
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
            [{"name": "patronauth-language", "value": language, "domain": host, "path": "/"}]
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
    "/hkct/forgot",
    "/hku/forgot",
    "/hku/set-up",
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
    yield from PUBLIC_PAGES
    sign_in(page, "hkpl", "HKPL0001", "4567")  # the default: the change step only
    page.wait_for_url("**/hkpl/change-required")
    yield "/hkpl/change-required"
    sign_in(page, "hkpl", "HKPL0002", "Reading#2026")
    page.wait_for_url("**/hkpl/account")
    yield from ACCOUNT_PAGES
    page.goto("/hkpl/account/holds")
    hold = page.locator("a[id^=cancel-]").first.get_attribute("href")
    yield str(hold)  # the confirmation before cancelling
    sign_in(page, "polyu", "21012345A", "Z12345")
    yield "/polyu/change-required"


@pytest.mark.parametrize("language", ["en", "zh_Hant"])
def test_no_page_scrolls_sideways_at_320_px_and_axe_finds_nothing_serious(
    open_page: Any, language: str
) -> None:
    """Issue 16, items 3 and 9: every page at phone and desktop width, in both languages."""
    problems: dict[str, list[str]] = {}
    for size_name, size in (("phone", PHONE), ("desktop", DESKTOP)):
        page = open_page(language, size)
        for path in pages_of(page):
            page.goto(path)
            found = serious_violations(page)
            if size is PHONE and (extra := sideways(page)) > 0:
                found.append(f"scrolls sideways by {extra} px")
            if found:
                problems[f"{size_name} {path}"] = found
            if size is PHONE and path == "/hkpl/account/loans":
                shot(page, f"40-hkpl-loans-320-{language}")
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
