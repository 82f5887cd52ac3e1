"""The seeds' stories in a real browser against a real server (SPEC 4.4, 7)."""

from __future__ import annotations

import re
from typing import Any

from tests.e2e.conftest import Mailbox, Server, shot

VALID = "Lib#Reader2026"


def sign_in(page: Any, library: str, card: str, secret: str) -> None:
    page.goto(f"/{library}/sign-in")
    page.get_by_label(re.compile("card number|圖書證號碼")).fill(card)
    page.locator("#secret").fill(secret)
    page.locator("form.form button[type=submit]").click()


def summary(page: Any) -> str:
    return str(page.locator(".error-summary").inner_text())


def test_hkpl_default_password_forced_change_sign_out_and_in_again(page: Any) -> None:
    answer = page.goto("/")
    assert "default-src 'self'" in answer.headers["content-security-policy"]
    shot(page, "01-libraries")
    page.get_by_role("link", name="Hong Kong Public Libraries").click()
    shot(page, "02-hkpl-sign-in")
    sign_in(page, "hkpl", "HKPL0001", "4567")
    page.wait_for_url("**/hkpl/change-required")
    assert "Choose a new online password" in page.locator("h1").inner_text()
    shot(page, "03-hkpl-forced-change")
    # R5: nothing else is reachable until the password is changed.
    page.goto("/hkpl/account")
    page.wait_for_url("**/hkpl/change-required")

    page.locator("#current").fill("4567")
    page.locator("#new").fill("Password1")
    page.locator("#confirm").fill("Password1")
    page.locator("form.form button[type=submit]").click()
    assert "special character" in summary(page)
    assert page.locator("#new-error").is_visible()
    shot(page, "04-hkpl-forced-change-refused")

    page.locator("#current").fill("4567")
    page.locator("#new").fill(VALID)
    page.locator("#confirm").fill(VALID)
    page.locator("form.form button[type=submit]").click()
    page.wait_for_url("**/hkpl/account?changed=password")
    assert "Your online password has been changed" in page.locator("main").inner_text()
    assert "Your PIN is still the default" in page.locator("main").inner_text()
    shot(page, "05-hkpl-my-account")
    page.get_by_role("link", name="Contact", exact=True).click()
    shot(page, "06-hkpl-contact")
    page.get_by_role("link", name="Change PIN").click()  # R6: under "Contact"
    page.wait_for_url("**/hkpl/change-pin")
    assert page.locator("[aria-current=page]").inner_text() == "Contact"
    shot(page, "21-hkpl-change-pin")

    page.get_by_role("button", name="Sign out").first.click()
    page.wait_for_url("**/hkpl/sign-in?notice=signed-out")
    assert "You have signed out" in page.locator("main").inner_text()
    page.goto("/hkpl/account")
    page.wait_for_url("**/hkpl/sign-in?notice=session.missing")

    sign_in(page, "hkpl", "HKPL0001", VALID)
    page.wait_for_url("**/hkpl/account")
    assert "HKPL0001" in page.locator("main").inner_text()
    page.get_by_role("button", name="中文").click()
    page.wait_for_url("**/hkpl/account")
    assert "你的個人密碼仍是預設的" in page.locator("main").inner_text()
    shot(page, "20-hkpl-my-account-zh")


def test_polyu_sixth_wrong_pin_within_a_minute_is_blocked(page: Any) -> None:
    for attempt in range(1, 6):
        sign_in(page, "polyu", "21012345A", f"wrong{attempt}")
        assert "is not correct" in summary(page)
    sign_in(page, "polyu", "21012345A", "Z12345")  # R12: even the right PIN
    text = summary(page)
    assert "Too many attempts with this card number" in text
    assert re.search(r"try again in \d+ seconds", text)
    shot(page, "07-polyu-blocked")


def test_hkpl_forgot_password_through_a_real_smtp_server(
    page: Any, server: Server, smtp: Mailbox
) -> None:
    added = server.patronauth(
        "patron", "add", "--institution", "hkpl", "--barcode", "HKPL0100", "--name",
        "Ho Ka Ming", "--phone", "9876 5432", "--email", "ka-ming.ho@example.org",
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    page.goto("/hkpl/sign-in")
    page.get_by_role("link", name="Forgot your online password?").click()
    assert "in person at a library" in page.locator("main").inner_text()  # R7
    shot(page, "08-hkpl-forgot")
    page.get_by_label("Registered e-mail address").fill("Ka-Ming.Ho@example.org")
    page.get_by_role("button", name="Send me an e-mail").click()
    page.wait_for_url("**/hkpl/forgot?sent=1")
    assert "If the details match a library account" in page.locator("main").inner_text()
    shot(page, "09-hkpl-forgot-sent")

    (mail,) = smtp.wait_for("ka-ming.ho@example.org")
    match = re.search(r"is: (\S+)", body_of(mail))
    assert match is not None, body_of(mail)
    temporary = match.group(1)

    sign_in(page, "hkpl", "HKPL0100", temporary)
    page.wait_for_url("**/hkpl/change-required")  # S5: a temporary secret opens the change step
    assert "temporary online password" in page.locator("main").inner_text()
    page.locator("#current").fill(temporary)
    page.locator("#new").fill(VALID)
    page.locator("#confirm").fill(VALID)
    page.locator("form.form button[type=submit]").click()
    page.wait_for_url("**/hkpl/account?changed=password")


def test_the_chinese_interface_shows_chinese_refusals_and_is_remembered(page: Any) -> None:
    page.goto("/hkct/sign-in")
    page.get_by_role("button", name="中文").click()
    page.wait_for_url("**/hkct/sign-in")
    assert page.locator("html").get_attribute("lang") == "zh-Hant-HK"

    sign_in(page, "hkct", "S2019001", "S2019001")  # R17: application not complete
    text = summary(page)
    assert "你的登記手續尚未完成" in text
    assert "電話 2265 6918" in text
    shot(page, "10-hkct-pending-zh")

    sign_in(page, "hkct", "20181234", "wrong-password")
    assert "圖書證號碼或密碼不正確" in summary(page)  # HKCT has one secret, its password

    page.goto("/hkct/forgot")  # the choice stays with the browser
    assert page.locator("html").get_attribute("lang") == "zh-Hant-HK"
    assert "lib@hkct.edu.hk" in page.locator("main").inner_text()
    shot(page, "11-hkct-forgot-zh")


def confirm_with_the_e_mailed_code(page: Any, smtp: Mailbox, to: str, secret: str) -> None:
    """HKCT's first change of a default waits for the code sent to the registered
    address; the form asks for it, with the new password again."""
    assert "we have sent a code to your registered e-mail address" in summary(page)
    (mail,) = smtp.wait_for(to)
    code = re.search(r"is: (\S+)", body_of(mail))
    assert code is not None, body_of(mail)
    page.locator("#code").fill(code.group(1))
    page.locator("#new").fill(secret)
    page.locator("#confirm").fill(secret)
    page.locator("form.form button[type=submit]").click()


def test_live_hints_while_typing_and_the_same_form_when_they_fail(page: Any, smtp: Mailbox) -> None:
    sign_in(page, "hkct", "20181234", "20181234")  # R16: the student number
    page.wait_for_url("**/hkct/change-required")
    hints = page.locator("#new-hints")
    page.locator("#new").press_sequentially("abc")
    page.wait_for_selector("#new-hints li")
    assert "at least 8 characters" in hints.inner_text()
    page.locator("#new").fill("Quiet!Stacks22")
    page.wait_for_selector("#new-hints .live-hints__ok")
    assert "This meets all the rules." in hints.inner_text()
    shot(page, "12-hkct-live-hints")

    # The policy check failing (here: the network) only hides the hints.
    page.route("**/hkct/policy-check", lambda route: route.abort())
    page.locator("#new").fill("abc")
    page.wait_for_selector("#new-hints", state="hidden")
    page.locator("#current").fill("20181234")
    page.locator("#new").fill("Quiet!Stacks22")
    page.locator("#confirm").fill("Quiet!Stacks22")
    page.locator("form.form button[type=submit]").click()
    page.wait_for_selector("#code")
    page.locator("#current").fill("20181234")
    confirm_with_the_e_mailed_code(page, smtp, "mei-ling.cheung@example.org", "Quiet!Stacks22")
    page.wait_for_url("**/hkct/account?changed=password")


def test_every_page_works_without_javascript(browser: Any, server: Server, smtp: Mailbox) -> None:
    context = browser.new_context(base_url=server.url, java_script_enabled=False)
    page = context.new_page()
    sign_in(page, "hkct", "16071234", "A12345")  # R16: before 2018-08-01, the HKID part
    page.wait_for_url("**/hkct/change-required")
    page.locator("#current").fill("A12345")
    page.locator("#new").fill("Quiet!Stacks22")
    page.locator("#confirm").fill("Quiet!Stacks23")
    page.locator("form.form button[type=submit]").click()
    assert "The two new entries are not the same." in summary(page)
    page.locator("#current").fill("A12345")
    page.locator("#new").fill("Quiet!Stacks22")
    page.locator("#confirm").fill("Quiet!Stacks22")
    page.locator("form.form button[type=submit]").click()
    page.locator("#current").fill("A12345")
    confirm_with_the_e_mailed_code(page, smtp, "chi-keung.lam@example.org", "Quiet!Stacks22")
    page.wait_for_url("**/hkct/account?changed=password")
    page.goto("/hkct/sign-out")
    shot(page, "13-hkct-sign-out")
    page.get_by_role("main").get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/hkct/sign-in?notice=signed-out")
    page.goto("/hkct/no-such-page")
    shot(page, "14-not-found")
    context.close()


def test_hku_first_time_set_up_by_e_mail(page: Any, smtp: Mailbox) -> None:
    page.goto("/hku/sign-in")
    page.get_by_role("link", name="First time here? Set up your PIN").click()
    page.get_by_label("Library card number").fill("CU1234567")
    page.get_by_label("Registered e-mail address").fill("hc.yip@example.org")
    shot(page, "15-hku-set-up-request")
    page.get_by_role("button", name="Send me a link").click()
    page.wait_for_url("**/hku/set-up?sent=1")
    (mail,) = smtp.wait_for("hc.yip@example.org")
    link = re.search(r"https?://\S+/hku/set-up/\S+", body_of(mail))
    assert link is not None
    page.goto(link.group(0))
    shot(page, "16-hku-set-up")
    page.locator("#new").fill("Reading!Room42")
    page.locator("#confirm").fill("Reading!Room42")
    page.locator("form.form button[type=submit]").click()
    assert "Your PIN is set up" in page.locator("h1").inner_text()
    shot(page, "17-hku-set-up-done")
    sign_in(page, "hku", "CU1234567", "Reading!Room42")
    page.wait_for_url("**/hku/account")


def test_polyu_reset_link_by_e_mail(page: Any, server: Server, smtp: Mailbox) -> None:
    added = server.patronauth(
        "patron", "add", "--institution", "polyu", "--barcode", "22000001C", "--id-number",
        "A123456(3)", "--email", "pui-yee.lau@example.org",
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    page.goto("/polyu/forgot")
    page.get_by_label("Registered e-mail address").fill("pui-yee.lau@example.org")
    page.get_by_role("button", name="Send me an e-mail").click()
    page.wait_for_url("**/polyu/forgot?sent=1")
    (mail,) = smtp.wait_for("pui-yee.lau@example.org")
    link = re.search(r"https?://\S+/polyu/reset/\S+", body_of(mail))
    assert link is not None
    page.goto(link.group(0))
    shot(page, "18-polyu-reset-link")
    page.get_by_role("button", name="Change my PIN back to the default").click()
    assert "Your PIN is back to the default" in page.locator("h1").inner_text()
    shot(page, "19-polyu-reset-done")
    sign_in(page, "polyu", "22000001C", "A12345")
    page.wait_for_url("**/polyu/change-required")


def body_of(mail: Any) -> str:
    body = mail.get_body(preferencelist=("plain",))
    assert body is not None
    return str(body.get_content())


def loan_row(page: Any, title: str) -> Any:
    return page.locator("tbody tr").filter(has=page.locator(".item-title", has_text=title))


def test_renew_one_refused_another_with_the_reason_reserve_and_cancel(page: Any) -> None:
    """Issue 4's story: HKPL0002 renews one loan, is refused another that a reader has
    reserved (with the reason beside it), then places and cancels a reservation."""
    sign_in(page, "hkpl", "HKPL0002", "Reading#2026")
    page.wait_for_url("**/hkpl/account")
    page.get_by_role("link", name="Loans", exact=True).click()
    page.wait_for_url("**/hkpl/account/loans")
    shot(page, "30-hkpl-loans")

    dream = loan_row(page, "Dream of the Red Chamber")
    due_before = dream.locator("td").first.inner_text()
    dream.get_by_role("button", name=re.compile("^Renew")).click()
    page.wait_for_url("**/hkpl/account/loans**")
    notice = page.locator("[role=status]").inner_text()
    assert "Renewed: Dream of the Red Chamber" in notice
    due_after = loan_row(page, "Dream of the Red Chamber").locator("td").first.inner_text()
    assert due_after != due_before

    loan_row(page, "Journey to the West").get_by_role("button", name=re.compile("^Renew")).click()
    reason = "Another reader has reserved this item, so it cannot be renewed."
    assert reason in summary(page)
    refused = loan_row(page, "Journey to the West")
    assert reason in refused.locator(".row-error").inner_text()
    button = refused.get_by_role("button", name=re.compile("^Renew"))
    assert button.get_attribute("aria-describedby") == f"{button.get_attribute('id')}-error"
    shot(page, "31-hkpl-renewal-refused")

    page.get_by_role("link", name="Reservations", exact=True).click()
    page.get_by_role("link", name="Reserve a title").click()
    page.get_by_label("Title or author").fill("Fortress Besieged")
    page.get_by_role("button", name="Search the catalogue").click()
    assert "Fortress Besieged" in page.locator("#results-title").inner_text()
    shot(page, "32-hkpl-catalogue")
    page.get_by_role("button", name=re.compile("^Reserve Fortress Besieged")).click()
    page.wait_for_url("**/hkpl/account/holds**")
    assert "Reserved: Fortress Besieged." in page.locator("[role=status]").inner_text()
    held = loan_row(page, "Fortress Besieged")
    assert "Ready for collection" in held.inner_text()
    shot(page, "33-hkpl-reserved")

    held.get_by_role("link", name=re.compile("^Cancel")).click()
    page.wait_for_url("**/hkpl/account/holds/*/cancel")  # it asks first, naming the title
    assert "Cancel your reservation of Fortress Besieged?" in page.locator("main").inner_text()
    page.get_by_role("button", name=re.compile("^Yes, cancel it")).click()
    page.wait_for_url("**/hkpl/account/holds?cancelled=*")
    notice = page.locator("[role=status]").inner_text()
    assert "Your reservation of Fortress Besieged has been cancelled." in notice
    assert loan_row(page, "Fortress Besieged").count() == 0
    shot(page, "34-hkpl-reservation-cancelled")
