"""The staff console in-process (httpx over ASGI, the whole application so that the
patrons' pages are there too), over SQLite and PostgreSQL."""

from __future__ import annotations

import re
from collections.abc import Mapping
from urllib.parse import urlsplit

import httpx
import pyotp
import pytest

from patronauth.asgi import create
from patronauth.bootstrap import App, staff_ports
from patronauth.domain.staff import Role
from patronauth.services.interfaces import StaffPorts
from patronauth.services.staffaccounts import add_staff, enrol, open_enrolment
from tests.support import clock_of, register

BASE = "https://testserver"
STAFF_COOKIE = "patronauth-staff"
PATRON_COOKIE = "__Host-patronauth-session"
PASSWORD = "Counter#Desk-2026"
_TOKEN_FIELD = re.compile(r'name="csrftoken" value="([^"]+)"')


def enrolled(app: App, login: str, role: Role, institutions: list[str]) -> str:
    """A staff member enrolled with TOTP; their TOTP key."""
    sp = staff_ports(app)
    added = add_staff(sp, login, login.title(), role, institutions, by="staff:test")
    token = urlsplit(added.link).path.rsplit("/", 1)[1]
    offer = open_enrolment(sp, token)
    now = clock_of(app).now()
    code = pyotp.TOTP(offer.totp_secret).at(now)
    enrol(sp, token, PASSWORD, PASSWORD, code=code, source="test")
    # The next code must be of a later time step.
    clock_of(app).advance(30)
    return offer.totp_secret


class Console:
    def __init__(self, app: App) -> None:
        self.app = app
        self.client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=create(app)), base_url=BASE
        )

    @property
    def sp(self) -> StaffPorts:
        return staff_ports(self.app)

    async def get(self, path: str) -> httpx.Response:
        return await self.client.get(path)

    async def token(self, path: str = "/staff/sign-in") -> str:
        page = await self.get(path)
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

    def code(self, secret: str) -> str:
        return pyotp.TOTP(secret).at(clock_of(self.app).now())

    async def sign_in(self, login: str, secret: str, password: str = PASSWORD) -> None:
        first = await self.post("/staff/sign-in", {"login": login, "password": password})
        assert first.status_code == 303, first.text
        second = await self.post("/staff/second-factor", {"code": self.code(secret)})
        assert second.status_code == 303, second.text
        assert second.headers["location"] == "/staff/"

    async def aclose(self) -> None:
        await self.client.aclose()


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def desk_app(app: App) -> App:
    """Two libraries' patrons and one staff member of each role at HKPL, one at HKU."""
    register(
        app, "hkpl", "HKPL0001", name="Chan Tai Man", phone="9123 4567", email="chan@example.org"
    )
    register(app, "hkpl", "HKPL0002", name="Lee Siu Ming", phone="9234 5678")
    register(app, "hku", "CU1234567", name="Wong Ka Yan", email="ky.wong@example.org")
    return app
