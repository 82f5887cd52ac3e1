"""E-mail (SPEC 4.6): SMTP when configured, otherwise `.eml` files in an outbox folder."""

from __future__ import annotations

import os
import smtplib
import ssl
from collections.abc import Mapping
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import Protocol
from urllib.parse import unquote, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from patronauth.domain.credentials import CredentialKind
from patronauth.domain.profile import Profile
from patronauth.presentation import i18n
from patronauth.services.interfaces import Notice

_DEFAULT_PORTS = {"smtp": 25, "smtp+starttls": 587, "smtps": 465}


class Transport(Protocol):
    def deliver(self, message: EmailMessage) -> None: ...


class OutboxTransport:
    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def deliver(self, message: EmailMessage) -> None:
        # Temporary passwords and reset links are in these files: the patron's eyes only.
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
        token = str(message["Message-ID"] or make_msgid()).strip("<>").split("@")[0]
        target = self.folder / f"{stamp}-{token}.eml"
        partial = target.with_suffix(".part")
        # The bytes SMTP would carry (CRLF line ends), written whole before they appear.
        data = message.as_bytes(policy=message.policy.clone(linesep="\r\n"))
        descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
        partial.rename(target)


class SmtpTransport:
    """`smtp://host:port`, `smtp+starttls://user:password@host:port` or `smtps://...`."""

    def __init__(self, url: str, timeout: float = 10.0) -> None:
        parts = urlsplit(url)
        if parts.scheme not in _DEFAULT_PORTS or not parts.hostname:
            raise ValueError("PATRONAUTH_SMTP_URL must look like smtp://host:port")
        self.scheme = parts.scheme
        self.host = parts.hostname
        self.port = parts.port or _DEFAULT_PORTS[parts.scheme]
        self.username = unquote(parts.username) if parts.username else None
        self.password = unquote(parts.password) if parts.password else None
        self.timeout = timeout

    def deliver(self, message: EmailMessage) -> None:
        if self.scheme == "smtps":
            client: smtplib.SMTP = smtplib.SMTP_SSL(
                self.host, self.port, timeout=self.timeout, context=ssl.create_default_context()
            )
        else:
            client = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        with client:
            if self.scheme == "smtp+starttls":
                client.starttls(context=ssl.create_default_context())
            if self.username and self.password:
                client.login(self.username, self.password)
            client.send_message(message)


class MailNotifier:
    """Renders notices from the catalogue in the patron's language and sends them."""

    def __init__(self, transport: Transport, sender: str, profiles: Mapping[str, Profile]) -> None:
        self.transport = transport
        self.sender = sender
        self.profiles = profiles

    def notify(self, notice: Notice) -> None:
        language = notice.language if notice.language in i18n.LANGUAGES else "en"
        profile = self.profiles.get(notice.institution)
        credential = notice.params.get("credential", "")
        if profile is not None and credential in set(CredentialKind):
            label = profile.credential_label(credential, language)
        else:
            label = i18n.credential_name(credential, language)
        now = datetime.now(UTC)
        params = {
            "credential": label,
            "library": profile.name.get(language, profile.id) if profile else notice.institution,
            "contact": profile.contact.get(language, "") if profile else "",
            "when": _local(now, profile.timezone if profile else "UTC"),
            **{k: v for k, v in notice.params.items() if k != "credential"},
        }
        subject, body = i18n.notice(notice.kind.value, language, params)
        message = EmailMessage()
        message["From"] = self.sender
        message["To"] = notice.to
        message["Subject"] = subject
        message["Date"] = format_datetime(now)
        message["Message-ID"] = make_msgid(domain="patronauth.invalid")
        # RFC 3834: no vacation or out-of-office replies to a no-reply sender.
        message["Auto-Submitted"] = "auto-generated"
        message.set_content(body)
        # After set_content, which clears every Content-* header set before it.
        message["Content-Language"] = "zh-Hant" if language == "zh_Hant" else "en"
        self.transport.deliver(message)


def _local(moment: datetime, timezone: str) -> str:
    """A time as the library's patrons read it (Hong Kong time for the seed libraries)."""
    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z")
