"""A real `patronauth serve` process over a temporary SQLite database, a real SMTP
server on loopback (aiosmtpd) and a real browser (Debian's Chromium driven by
Playwright). Without Chromium these tests skip, saying why; under CI=true they fail."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller

from tests.servers import free_port
from tests.support import test_env

CHROMIUM = Path(os.environ.get("PATRONAUTH_TEST_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCRIPT = Path(sys.executable).parent / "patronauth"
ARTIFACTS = Path(__file__).parent / "artifacts"
IN_CI = os.environ.get("CI", "").lower() == "true"


def missing(what: str, why: str) -> None:
    message = f"{what} is not available ({why})"
    if IN_CI:
        pytest.fail(f"{message}; CI=true requires it", pytrace=False)
    pytest.skip(f"{message}; install it (apt-get install chromium) to run the browser tests")


@dataclass
class Mailbox:
    """What the SMTP server on loopback received."""

    port: int = 0
    messages: list[EmailMessage] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        self.messages.append(message)
        return "250 Message accepted for delivery"

    def wait_for(self, to: str, count: int = 1, timeout: float = 10.0) -> list[EmailMessage]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [m for m in self.messages if m["To"] == to]
            if len(found) >= count:
                return found
            time.sleep(0.05)
        raise AssertionError(f"no mail to {to} within {timeout} s")


@pytest.fixture(scope="session")
def smtp() -> Iterator[Mailbox]:
    mailbox = Mailbox(port=free_port())
    controller = Controller(mailbox, hostname="127.0.0.1", port=mailbox.port)
    controller.start()
    yield mailbox
    controller.stop()


@dataclass(frozen=True)
class Server:
    url: str
    env: dict[str, str]
    log: Path | None = None

    def patronauth(self, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [str(SCRIPT), *args],
            input=stdin,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert "Traceback" not in done.stderr, done.stderr
        return done


@contextmanager
def serving(
    home: Path,
    smtp: Mailbox,
    *,
    public_url: bool = True,
    serve_only: dict[str, str] | None = None,
    **extra: str,
) -> Iterator[Server]:
    """`patronauth init --demo`, then `patronauth serve` on a free port of loopback, in
    `home`; without `public_url`, PATRONAUTH_PUBLIC_URL is left unset; `serve_only`
    settings are given to `serve` but not to `init`."""
    assert SCRIPT.exists(), f"the console script is not installed next to {sys.executable}"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("PATRONAUTH_")}
    env = {
        **inherited,
        **test_env(f"sqlite:///{home / 'patronauth.db'}", home / "var"),
        "PATRONAUTH_COOKIE_SECURE": "false",  # plain http on loopback
        "PATRONAUTH_SMTP_URL": f"smtp://127.0.0.1:{smtp.port}",
        "PYTHONIOENCODING": "utf-8",
        **({"PATRONAUTH_PUBLIC_URL": url} if public_url else {}),
        **extra,
    }
    init = subprocess.run(
        [str(SCRIPT), "init", "--demo"], env=env, capture_output=True, text=True, timeout=120
    )
    assert init.returncode == 0, init.stderr
    log_path = home / "server.log"
    log = log_path.open("w")
    process = subprocess.Popen(
        [str(SCRIPT), "serve", "--port", str(port), "--sip2-port", str(free_port())],
        env={**env, **(serve_only or {})},
        stdout=log,
        stderr=log,
    )
    try:
        _wait_until_healthy(url, process)
        yield Server(url, env, log_path)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
        text = log_path.read_text("utf-8", errors="replace")
        assert "Traceback" not in text, text


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory, smtp: Mailbox) -> Iterator[Server]:
    with serving(tmp_path_factory.mktemp("server"), smtp) as started:
        yield started


def _wait_until_healthy(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"patronauth serve exited with {process.returncode}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError("patronauth serve did not answer /healthz within 30 s")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Playwright's sync API keeps an event loop running in this thread while it is
    open, so it lives only as long as a module of browser tests: the in-process tests
    that share a worker with them run their own loop."""
    if not CHROMIUM.exists():
        missing("Chromium", f"no {CHROMIUM}")
    from playwright.sync_api import Error, sync_playwright

    with sync_playwright() as playwright:
        try:
            launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        except Error as error:
            missing("Chromium", str(error).splitlines()[0])
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Any, server: Server) -> Iterator[Any]:
    context = browser.new_context(base_url=server.url, locale="en-GB")
    context.set_default_timeout(10_000)
    opened = context.new_page()
    console: list[str] = []
    opened.on("console", lambda message: console.append(message.text))
    yield opened
    context.close()
    # No inline script or style anywhere: the Content-Security-Policy blocked nothing.
    assert not [m for m in console if "Content Security Policy" in m], console


def shot(page: Any, name: str) -> None:
    """A screenshot of the whole page, to look at after the run."""
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
