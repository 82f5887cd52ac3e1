"""The web pages in-process (httpx over ASGI), over SQLite and PostgreSQL.

`Browser` behaves as a browser would: it keeps cookies, sends the CSRF token the
pages put in their forms, and does not follow redirects so tests can see them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from patronauth.adapters.storage import tables
from patronauth.bootstrap import App
from patronauth.web import create_web
from tests.support import register

BASE = "https://testserver"  # the cookies are Secure, as deployed
SESSION = "__Host-patronauth-session"
CSRF = "__Host-patronauth-csrf"
LANGUAGE = "__Host-patronauth-language"
_TOKEN_FIELD = re.compile(r'name="csrftoken" value="([^"]+)"')


class Browser:
    def __init__(self, app: App) -> None:
        self.app = app
        self.client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=create_web(app)), base_url=BASE
        )

    async def get(self, path: str, headers: Mapping[str, str] | None = None) -> httpx.Response:
        return await self.client.get(path, headers=headers)

    async def token(self) -> str:
        """The CSRF token of the forms: fetched from a page as a browser would."""
        page = await self.get("/")
        found = _TOKEN_FIELD.search(page.text)
        if found is None:  # a must-change session sees only its change page
            page = await self.get(page.headers["location"])
            found = _TOKEN_FIELD.search(page.text)
        assert found is not None, page.text
        return found.group(1)

    async def post(
        self, path: str, data: Mapping[str, str] | None = None, *, csrf: bool = True
    ) -> httpx.Response:
        fields = dict(data or {})
        if csrf:
            fields.setdefault("csrftoken", await self.token())
        return await self.client.post(path, data=fields)

    async def follow(self, response: httpx.Response) -> httpx.Response:
        assert response.status_code == 303, response.text
        return await self.get(response.headers["location"])

    @property
    def session(self) -> str | None:
        return self.client.cookies.get(SESSION)

    def present(self, token: str) -> None:
        """Send this session cookie from now on (an old one, or a planted one)."""
        self.client.cookies.set(SESSION, token, domain="testserver.local")

    async def sign_in(self, library: str, card: str, secret: str) -> httpx.Response:
        return await self.post(f"/{library}/sign-in", {"identifier": card, "secret": secret})

    async def aclose(self) -> None:
        await self.client.aclose()


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def browser(app: App) -> Browser:
    # A plain fixture: an async one could not ask for the database fixtures lazily.
    # The client holds no socket (ASGI in-process), so nothing is left open.
    return Browser(app)


@pytest.fixture
def patrons(app: App) -> App:
    """One patron of each kind the pages care about."""
    register(app, "hkpl", "HKPL0001", name="Chan Tai Man", phone="9123 4567",
             email="chan@example.org")  # fmt: skip
    register(app, "polyu", "21012345A", name="Wong Ka Yan", id_number="Z123456(1)",
             email="ka-yan.wong@example.org")  # fmt: skip
    register(app, "hkct", "S2019001", category="staff", staff_number="S2019001",
             pending=True)  # fmt: skip
    register(app, "hku", "CU1234567", name="Yip Hoi Ching", email="hc.yip@example.org")
    return app


def mails(app: App) -> list[EmailMessage]:
    folder = Path(app.settings.outbox_dir)
    found = []
    for path in sorted(folder.glob("*.eml")):
        message = message_from_bytes(path.read_bytes(), policy=policy.default)
        assert isinstance(message, EmailMessage)
        found.append(message)
    return found


def text_of(message: EmailMessage) -> str:
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    return str(body.get_content())


def link_in(message: EmailMessage) -> str:
    found = re.search(r"https?://[^/\s]+(/\S+)", text_of(message))
    assert found is not None, text_of(message)
    return found.group(1)


LENDING = ("titles", "items", "loans", "holds", "fines", "payments", "patron_requests")


def stored(app: App) -> dict[str, object]:
    """Everything a form could store: secrets, temporaries, sessions, links, patrons,
    and every row of the lending tables (loans, reservations, requests, ...).

    A secret counts by its version, not its hash: verifying a default upgrades how the
    same secret is stored (S1), which changes nothing a patron typed.
    """
    t = tables
    c = t.credentials.c
    with app.engine.connect() as conn:
        return {
            "patrons": conn.execute(select(t.patrons).order_by(t.patrons.c.id)).all(),
            "credentials": conn.execute(
                select(c.id, c.state, c.version, c.set_at).order_by(c.id)
            ).all(),
            "temporaries": conn.execute(
                select(func.count()).select_from(t.temporary_secrets)
            ).scalar_one(),
            "sessions": conn.execute(select(func.count()).select_from(t.sessions)).scalar_one(),
            "links": conn.execute(select(func.count()).select_from(t.action_tokens)).scalar_one(),
            **{
                name: conn.execute(select(t.metadata.tables[name]).order_by("id")).all()
                for name in LENDING
            },
        }
