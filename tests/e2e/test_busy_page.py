"""The busy page (503, the hashing pool full) checked by axe-core like every other page:
a server with one place for argon2 and no queue, at a cost that keeps that place held
for seconds by one sign-in, so that the reader's sign-in meanwhile is answered "busy"."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import Mailbox, Server, serving, shot
from tests.e2e.test_experience import LANGUAGES, problems_here

HELD = {
    "PATRONAUTH_HASH_WORKERS": "1",
    "PATRONAUTH_HASH_QUEUE": "0",
    "PATRONAUTH_ARGON2_TIME_COST": "200",  # seconds per argon2 computation
    "PATRONAUTH_ARGON2_MEMORY_KIB": "19456",
}


@pytest.fixture(scope="module")
def held(tmp_path_factory: pytest.TempPathFactory, smtp: Mailbox) -> Iterator[Server]:
    with serving(tmp_path_factory.mktemp("busy"), smtp, serve_only=HELD) as started:
        yield started


def hold_the_pool(server: Server, card: str) -> threading.Thread:
    """A sign-in of a card nobody holds: its dummy argon2 takes the pool's one place."""

    def sign_in() -> None:
        body = {"identifier": card, "secret": "not-it-at-all"}
        httpx.post(f"{server.url}/api/v1/sessions", json=body, timeout=120)

    holder = threading.Thread(target=sign_in)
    holder.start()
    time.sleep(1.0)  # in flight: its argon2 runs for seconds
    return holder


@pytest.mark.parametrize("language", sorted(LANGUAGES))
def test_the_busy_page_axe_finds_nothing_serious(browser: Any, held: Server, language: str) -> None:
    context = browser.new_context(base_url=held.url, locale=LANGUAGES[language], bypass_csp=True)
    host = held.url.split("//", 1)[1].split(":", 1)[0]
    context.add_cookies(
        [{"name": "patronauth-language", "value": language, "domain": host, "path": "/"}]
    )
    page = context.new_page()
    try:
        for turn in range(3):  # a busy machine may let the reader's sign-in go first
            cards = [f"HKPL9{side}{sorted(LANGUAGES).index(language)}{turn}" for side in (8, 9)]
            page.goto("/hkpl/sign-in")
            page.locator("#identifier").fill(cards[0])
            page.locator("#secret").fill("Wrong#Pass12")
            holder = hold_the_pool(held, cards[1])  # fresh cards: no lockout
            with page.expect_response(lambda r: r.request.method == "POST") as answered:
                page.locator("form.form button[type=submit]").click()
            page.wait_for_load_state()
            holder.join(timeout=120)
            if answered.value.status != 422:
                break
        assert answered.value.status == 503
        assert answered.value.headers["retry-after"]
        expected = {"en": "en", "zh_Hant": "zh-Hant-HK"}[language]
        assert page.locator("html").get_attribute("lang") == expected
        shot(page, f"49-busy-{language}")
        assert problems_here(page) == []
    finally:
        context.close()
