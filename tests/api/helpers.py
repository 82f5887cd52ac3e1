"""Steps the API tests share: signing in, changing, reading the outbox."""

from __future__ import annotations

import re
from email import message_from_bytes
from email.message import Message
from pathlib import Path

import httpx

from patronauth.bootstrap import App

HKPL_PASSWORD = "Lib#Reader2026"


async def sign_in(
    client: httpx.AsyncClient, identifier: str, secret: str, **fields: str
) -> dict[str, object]:
    response = await client.post(
        "/api/v1/sessions", json={"identifier": identifier, "secret": secret, **fields}
    )
    assert response.status_code == 201, response.text
    body: dict[str, object] = response.json()
    return body


def bearer(token: object) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def chosen_password(client: httpx.AsyncClient) -> str:
    """HKPL0001 signs in with the default and sets its own password; a full token."""
    opened = await sign_in(client, "HKPL0001", "4567")
    response = await client.put(
        "/api/v1/me/password",
        headers=bearer(opened["token"]),
        json={"current": "4567", "new": HKPL_PASSWORD, "confirm": HKPL_PASSWORD},
    )
    assert response.status_code == 204, response.text
    return str(opened["token"])


def mails(app: App) -> list[Message]:
    folder = Path(app.settings.outbox_dir)
    return [message_from_bytes(p.read_bytes()) for p in sorted(folder.glob("*.eml"))]


def text_of(message: Message) -> str:
    payload = message.get_payload(decode=True)
    assert isinstance(payload, bytes)
    return payload.decode("utf-8")


def temporary_password(app: App) -> str:
    """The temporary password of the latest e-mail in the outbox (R7)."""
    match = re.search(r"is: (\S+)", text_of(mails(app)[-1]))
    assert match is not None
    return match.group(1)
