"""The staff console in Chromium: enrolment and sign-in with an authenticator app
(codes computed here with pyotp) and with a security key (Chromium's virtual
authenticator over CDP), and a counter reset read back on the patron's side.

WebAuthn refuses IP addresses as relying party ids, so this module runs its own
server whose public address is http://localhost:<port>."""

from __future__ import annotations

import os
import re
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import pyotp
import pytest

from tests import support
from tests.e2e.conftest import SCRIPT, Mailbox, Server, _wait_until_healthy, free_port, shot

PASSWORD = "Counter#Desk-2026"
VIRTUAL_KEY = {
    "protocol": "ctap2",
    "transport": "usb",
    "hasResidentKey": False,
    "hasUserVerification": True,
    "isUserVerified": True,
    "automaticPresenceSimulation": True,
}


@pytest.fixture(scope="module")
def console_server(tmp_path_factory: pytest.TempPathFactory, smtp: Mailbox) -> Iterator[Server]:
    home = tmp_path_factory.mktemp("console")
    port = free_port()
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("PATRONAUTH_")}
    env = {
        **inherited,
        **support.test_env(f"sqlite:///{home / 'patronauth.db'}", home / "var"),
        "PATRONAUTH_COOKIE_SECURE": "false",
        "PATRONAUTH_PUBLIC_URL": f"http://localhost:{port}",
        "PATRONAUTH_SMTP_URL": f"smtp://127.0.0.1:{smtp.port}",
        "PYTHONIOENCODING": "utf-8",
    }
    init = subprocess.run(
        [str(SCRIPT), "init", "--demo"], env=env, capture_output=True, text=True, timeout=120
    )
    assert init.returncode == 0, init.stderr
    log = (home / "server.log").open("w")
    process = subprocess.Popen(
        [str(SCRIPT), "serve", "--port", str(port), "--sip2-port", str(free_port())],
        env=env,
        stdout=log,
        stderr=log,
    )
    try:
        _wait_until_healthy(f"http://127.0.0.1:{port}", process)
        yield Server(f"http://localhost:{port}", env)
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()
        text = (home / "server.log").read_text("utf-8", errors="replace")
        assert "Traceback" not in text, text


@pytest.fixture
def desk(browser: Any, console_server: Server) -> Iterator[Any]:
    context = browser.new_context(base_url=console_server.url, locale="en-GB")
    context.set_default_timeout(10_000)
    opened = context.new_page()
    console: list[str] = []
    opened.on("console", lambda message: console.append(message.text))
    yield opened
    context.close()
    assert not [m for m in console if "Content Security Policy" in m], console


def add_staff(server: Server, login: str, role: str, institution: str) -> str:
    done = server.patronauth(
        "staff", "add", "--reason", "new at the counter", "--login", login,
        "--name", login.title(), "--role", role, "--institution", institution,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "recorded as staff:test" in done.stdout
    found = re.search(r"(http://\S+/staff/enrol/\S+)", done.stdout)
    assert found is not None, done.stdout
    return found.group(1)


def next_code(secret: str) -> str:
    """The code of the next time step: later than any code used in this step, and
    within the one step of drift the console allows."""
    return pyotp.TOTP(secret).at(time.time() + 30)


def test_enrol_and_sign_in_with_an_authenticator_app_then_reset_at_the_counter(
    desk: Any, console_server: Server, browser: Any
) -> None:
    link = add_staff(console_server, "hoi", "counter", "hku")
    desk.goto(link)
    secret = desk.locator("#totp-key").inner_text()
    assert desk.locator("#qr svg").count() == 1
    shot(desk, "staff-01-enrol-totp")
    desk.locator("input[name=password]").fill(PASSWORD)
    desk.locator("input[name=confirm]").fill(PASSWORD)
    desk.locator("input[name=code]").fill(pyotp.TOTP(secret).now())
    desk.locator("#enrol-totp").click()
    desk.locator("#enrolled").wait_for()

    desk.goto("/staff/sign-in")
    desk.locator("input[name=login]").fill("hoi")
    desk.locator("input[name=password]").fill(PASSWORD)
    desk.get_by_role("button", name="Next").click()
    desk.wait_for_url("**/staff/second-factor")
    desk.locator("#totp-form input[name=code]").fill(next_code(secret))
    desk.locator("#totp-form button").click()
    desk.wait_for_url("**/staff/")
    assert "hoi, counter" in desk.locator("#who").inner_text()

    # A security key added later, on her own page (the sign-in is fresh enough).
    cdp = desk.context.new_cdp_session(desk)
    cdp.send("WebAuthn.enable")
    authenticator = cdp.send("WebAuthn.addVirtualAuthenticator", {"options": VIRTUAL_KEY})
    desk.goto("/staff/me")
    assert desk.locator('#factors tr[data-factor="totp"]').count() == 1
    desk.locator("#add-key-button").click()
    desk.wait_for_url("**/staff/me?done=factor-added")
    assert desk.locator("#factors tr[data-factor]").count() == 2
    shot(desk, "staff-04-security-key-added")
    made = cdp.send(
        "WebAuthn.getCredentials", {"authenticatorId": authenticator["authenticatorId"]}
    )
    assert len(made["credentials"]) == 1
    desk.goto("/staff/")

    desk.locator("input[name=q]").fill("CU1234567")
    desk.locator("#search button").click()
    desk.locator("#hits a").click()
    desk.locator("#reset select[name=credential]").select_option("pin")
    desk.locator("#reset input[name=reason]").fill("patron at the counter with ID")
    desk.locator("#reset button").click()
    temporary = desk.locator("#temporary").inner_text()
    shot(desk, "staff-02-temporary")

    # The patron's side, in browsers of its own: the temporary PIN signs in once, and
    # only to the change page; the same PIN typed again is refused.
    patron_site = "http://127.0.0.1:" + console_server.url.rsplit(":", 1)[1]
    first = browser.new_context(base_url=patron_site, locale="en-GB")
    try:
        page = first.new_page()
        _patron_sign_in(page, "CU1234567", temporary)
        page.wait_for_url("**/hku/change-required")
        shot(page, "staff-02b-temporary-forces-the-change")
        page.goto("/hku/account")
        assert "/hku/account" not in page.url  # nothing but the change step
    finally:
        first.close()
    again = browser.new_context(base_url=patron_site, locale="en-GB")
    try:
        page = again.new_page()
        _patron_sign_in(page, "CU1234567", temporary)
        page.locator(".error-summary").wait_for()
        assert page.url.endswith("/hku/sign-in")
        assert "This temporary PIN has been used or has expired" in (
            page.locator(".error-summary").inner_text()
        )
        shot(page, "staff-02c-temporary-used-up")
    finally:
        again.close()
    audit = console_server.patronauth("audit", "CU1234567", "--json")
    assert '"actor": "staff:hoi"' in audit.stdout
    assert '"reason": "patron at the counter with ID"' in audit.stdout
    assert '"outcome": "temporary-expired"' in audit.stdout


def _patron_sign_in(page: Any, card: str, secret: str) -> None:
    page.goto("/hku/sign-in")
    page.locator("#identifier").fill(card)
    page.locator("#secret").fill(secret)
    page.locator("form.form button[type=submit]").click()


def test_enrol_and_sign_in_with_a_security_key(desk: Any, console_server: Server) -> None:
    cdp = desk.context.new_cdp_session(desk)
    cdp.send("WebAuthn.enable")
    added = cdp.send("WebAuthn.addVirtualAuthenticator", {"options": VIRTUAL_KEY})
    authenticator = added["authenticatorId"]
    link = add_staff(console_server, "kim", "supervisor", "hkpl")
    desk.goto(link)
    desk.locator("input[name=password]").fill(PASSWORD)
    desk.locator("input[name=confirm]").fill(PASSWORD)
    desk.locator("#enrol-key").click()
    desk.locator("#enrolled").wait_for()
    credentials = cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator})
    assert len(credentials["credentials"]) == 1

    desk.goto("/staff/sign-in")
    desk.locator("input[name=login]").fill("kim")
    desk.locator("input[name=password]").fill(PASSWORD)
    desk.get_by_role("button", name="Next").click()
    desk.wait_for_url("**/staff/second-factor")
    assert desk.locator("#totp-form").count() == 0
    desk.locator("#use-key").click()
    desk.wait_for_url("**/staff/")
    assert "kim, supervisor" in desk.locator("#who").inner_text()
    shot(desk, "staff-03-signed-in-with-key")
    listed = console_server.patronauth("staff", "list", "--json")
    assert '"security_keys": 1' in listed.stdout
