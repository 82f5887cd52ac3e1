"""SPEC 4.6 and S8 over real SMTP: an aiosmtpd server on loopback receives what the
service sends; without SMTP the outbox folder holds the same messages as files."""

from __future__ import annotations

import logging
import re
import smtplib
import stat
from collections.abc import Iterator
from dataclasses import replace
from datetime import date
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP as SMTPServer
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session

from patronauth.adapters.mail import SmtpTransport
from patronauth.bootstrap import App
from patronauth.domain.credentials import Channel, CredentialKind, Outcome
from patronauth.services.credentials import ChangeRequest, change_secret
from patronauth.services.resets import (
    ResetRequest,
    complete_setup,
    request_reset,
    revert_to_default,
)
from tests.servers import free_port
from tests.support import TEST_PEPPER, attempt, make_app, register
from tests.support import test_env as deployment_env

NEW_PASSWORD = "Lib#Reader2026"


class Mailbox:
    """An aiosmtpd handler that keeps every message it accepts."""

    def __init__(self) -> None:
        self.envelopes: list[Envelope] = []

    async def handle_DATA(self, server: SMTPServer, session: Session, envelope: Envelope) -> str:
        self.envelopes.append(envelope)
        return "250 Message accepted"

    @property
    def messages(self) -> list[EmailMessage]:
        parsed = []
        for envelope in self.envelopes:
            assert isinstance(envelope.content, bytes)
            message = message_from_bytes(envelope.content, policy=policy.default)
            assert isinstance(message, EmailMessage)
            parsed.append(message)
        return parsed


@pytest.fixture
def mailbox() -> Iterator[tuple[Mailbox, int]]:
    box, port = Mailbox(), free_port()
    server = Controller(box, hostname="127.0.0.1", port=port)
    server.start()
    yield box, port
    server.stop()


def app_sending_to(database_url: str, var: Path, port: int) -> App:
    url = f"smtp://127.0.0.1:{port}"
    return make_app(deployment_env(database_url, var, PATRONAUTH_SMTP_URL=url))


@pytest.fixture
def smtp_app(
    database_url: str, tmp_path: Path, mailbox: tuple[Mailbox, int]
) -> Iterator[tuple[App, Mailbox]]:
    box, port = mailbox
    app = app_sending_to(database_url, tmp_path / "var", port)
    yield app, box
    app.close()


def hkpl_patron(app: App, language: str = "en") -> None:
    register(app, "hkpl", "HKPL0001", name="Chan Tai Man", phone="9123 4567",
             email="chan@example.org", id_number="Z123456(1)", language=language)  # fmt: skip


def change_password(app: App) -> None:
    request = ChangeRequest("HKPL0001", "4567", NEW_PASSWORD, NEW_PASSWORD, Channel.WEB)
    assert change_secret(app.ports, request).outcome is Outcome.MUST_CHANGE


def text(message: EmailMessage) -> str:
    content = message.get_content()
    assert isinstance(content, str)
    return content


@pytest.mark.parametrize(
    ("language", "subject", "library", "content_language"),
    [
        ("en", "Your library online password was changed", "Hong Kong Public Libraries", "en"),
        ("zh_Hant", "你的圖書館網上密碼已更改", "香港公共圖書館", "zh-Hant"),
    ],
)
def test_a_change_sends_the_notice_by_smtp_in_the_patrons_language(
    smtp_app: tuple[App, Mailbox], language: str, subject: str, library: str,
    content_language: str,
) -> None:  # fmt: skip
    app, box = smtp_app
    hkpl_patron(app, language)
    change_password(app)
    assert [e.rcpt_tos for e in box.envelopes] == [["chan@example.org"]]
    assert box.envelopes[0].mail_from == "no-reply@localhost"
    [message] = box.messages
    assert message["Subject"] == subject
    assert message["Content-Language"] == content_language
    assert message["Auto-Submitted"] == "auto-generated"
    assert parsedate_to_datetime(message["Date"]).tzinfo is not None
    assert message["Message-ID"]
    assert library in text(message)
    assert app.ports.profiles.get("hkpl").contact[language] in text(message)
    raw = box.envelopes[0].content
    assert isinstance(raw, bytes)
    for secret in (NEW_PASSWORD, "4567"):
        assert secret not in text(message)
    assert NEW_PASSWORD.encode() not in raw


def test_a_forgotten_password_mails_the_temporary_one_and_nothing_else_secret(
    smtp_app: tuple[App, Mailbox],
) -> None:
    app, box = smtp_app
    hkpl_patron(app, "zh_Hant")
    change_password(app)
    box.envelopes.clear()
    request_reset(app.ports, ResetRequest(None, "Chan@Example.org", source="10.0.0.9"))
    assert [e.rcpt_tos for e in box.envelopes] == [["chan@example.org"]]
    [message] = box.messages
    assert message["Subject"] == "你的圖書館臨時網上密碼"
    body = text(message)
    temporary = body.split("：", 1)[1].split()[0]
    assert body.count(temporary) == 1
    # The temporary password signs in, to the change step only (R7, S5).
    assert attempt(app, "HKPL0001", temporary).outcome is Outcome.MUST_CHANGE
    raw = box.envelopes[0].content
    assert isinstance(raw, bytes)
    for secret in (NEW_PASSWORD, "Z123456", "91234567", TEST_PEPPER.split()[1], "argon2"):
        assert secret.encode() not in raw
    assert "4567" not in body  # the default (R4), from the phone number


def test_no_address_no_mail(smtp_app: tuple[App, Mailbox]) -> None:
    app, box = smtp_app
    register(app, "hkpl", "HKPL0002", phone="9876 5432")
    request = ChangeRequest("HKPL0002", "5432", NEW_PASSWORD, NEW_PASSWORD, Channel.WEB)
    change_secret(app.ports, request)
    request_reset(app.ports, ResetRequest("HKPL0002", "someone@example.org", source="t"))
    assert box.envelopes == []


class FixedRandomness:
    """Known temporary secrets, so that a test can look for them where they must not be."""

    SECRET = "Kq7#Wm2@Xp9z"

    def secret(self, alphabet: str, length: int) -> str:
        return self.SECRET

    def token(self) -> str:
        return "t0k3n-" + "x" * 16


def test_a_failed_delivery_keeps_the_change_and_logs_no_secret(
    database_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """S8: the notice cannot undo the change; the log says what failed, never a secret."""
    app = app_sending_to(database_url, tmp_path / "var", free_port())  # nobody listens
    app = replace(app, ports=replace(app.ports, randomness=FixedRandomness()))
    try:
        hkpl_patron(app)
        with caplog.at_level(logging.INFO):
            change_password(app)
            request_reset(app.ports, ResetRequest(None, "chan@example.org", source="t"))
        assert attempt(app, "HKPL0001", NEW_PASSWORD).outcome is Outcome.OK
        assert attempt(app, "HKPL0001", "4567").outcome is Outcome.INVALID
        # The temporary password was stored although its e-mail never left.
        assert attempt(app, "HKPL0001", FixedRandomness.SECRET).outcome is Outcome.MUST_CHANGE
    finally:
        app.close()
    failures = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert [r.getMessage() for r in failures] == [
        "notice credential_changed to patron 1 not delivered",
        "notice temporary_secret to patron 1 not delivered",
    ]
    assert all(r.exc_info and isinstance(r.exc_info[1], OSError) for r in failures)
    for secret in (NEW_PASSWORD, FixedRandomness.SECRET, "4567", "chan@example.org"):
        assert secret not in caplog.text


def test_without_smtp_the_outbox_holds_complete_eml_files(app: App) -> None:
    hkpl_patron(app, "zh_Hant")
    change_password(app)
    request_reset(app.ports, ResetRequest("HKPL0001", "chan@example.org", source="t"))
    outbox = Path(app.settings.outbox_dir)
    assert list(outbox.glob("*.part")) == []
    files = sorted(outbox.glob("*.eml"))
    assert len(files) == 2
    assert stat.S_IMODE(outbox.stat().st_mode) == 0o700
    subjects = []
    for path in files:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600  # temporary passwords inside
        raw = path.read_bytes()
        assert b"\n" not in raw.replace(b"\r\n", b"")  # CRLF, as SMTP would carry it
        message = message_from_bytes(raw, policy=policy.default)
        assert isinstance(message, EmailMessage)
        for header in ("From", "To", "Subject", "Date", "Message-ID", "MIME-Version"):
            assert message[header], header
        assert message["To"] == "chan@example.org"
        assert message["Content-Language"] == "zh-Hant"
        assert message.get_content_type() == "text/plain"
        assert message.get_content_charset() == "utf-8"
        assert "香港公共圖書館" in text(message)
        assert not message.defects
        subjects.append(str(message["Subject"]))
    assert sorted(subjects) == ["你的圖書館網上密碼已更改", "你的圖書館臨時網上密碼"]


def test_starttls_is_never_skipped(mailbox: tuple[Mailbox, int]) -> None:
    """A server that offers no STARTTLS gets nothing, rather than the message in clear."""
    box, port = mailbox
    transport = SmtpTransport(f"smtp+starttls://library:secret@127.0.0.1:{port}")
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "a@example.org", "b@example.org", "x"
    message.set_content("temporary password inside")
    with pytest.raises(smtplib.SMTPNotSupportedError):
        transport.deliver(message)
    assert box.envelopes == []


# Loopback only: the test server takes a login without TLS, which aiosmtpd warns about.
@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")
def test_the_url_credentials_log_in() -> None:
    logins: list[tuple[bytes, bytes]] = []

    def authenticator(
        server: SMTPServer, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        assert isinstance(data, LoginPassword)
        logins.append((data.login, data.password))
        return AuthResult(success=data.password == b"p@ss:w/rd")

    box, port = Mailbox(), free_port()
    server = Controller(box, hostname="127.0.0.1", port=port, authenticator=authenticator,
                        auth_required=True, auth_require_tls=False)  # fmt: skip
    server.start()
    try:
        transport = SmtpTransport(f"smtp://library:p%40ss%3Aw%2Frd@127.0.0.1:{port}")
        message = EmailMessage()
        message["From"], message["To"], message["Subject"] = "a@example.org", "b@x.org", "x"
        message.set_content("hello")
        transport.deliver(message)
    finally:
        server.stop()
    assert logins == [(b"library", b"p@ss:w/rd")]
    assert len(box.envelopes) == 1


@pytest.mark.parametrize(
    ("url", "port"),
    [
        ("smtp://mail.example.org", 25),
        ("smtp+starttls://user:pw@mail.example.org", 587),
        ("smtps://mail.example.org", 465),
        ("smtps://mail.example.org:2465", 2465),
    ],
)
def test_the_default_ports(url: str, port: int) -> None:
    assert SmtpTransport(url).port == port


@pytest.mark.parametrize("url", ["http://mail.example.org", "smtp://", "mail.example.org:25"])
def test_a_malformed_smtp_url_is_refused(url: str) -> None:
    with pytest.raises(ValueError, match="PATRONAUTH_SMTP_URL"):
        SmtpTransport(url)


def test_the_credential_is_named_as_the_library_names_it(
    smtp_app: tuple[App, Mailbox],
) -> None:
    app, box = smtp_app
    register(app, "polyu", "21012345A", id_number="Z123456(1)", email="p@example.org")
    request = ChangeRequest("21012345A", "Z12345", "lib2046x", "lib2046x", Channel.WEB,
                            CredentialKind.PIN)  # fmt: skip
    change_secret(app.ports, request)
    [message] = box.messages
    assert message["Subject"] == "Your library PIN was changed"
    assert "Your PIN for PolyU Pao Yue-kong Library was changed" in text(message)


# --- cards sharing one address: one e-mail, a link for each card (issue 10) ----------

FAMILY = "family@example.org"
CARD_LINE = re.compile(r"^(\S+): http://\S+/(hkpl|polyu)/(reset|set-up)/([\w-]+)\r?$", re.MULTILINE)


def links_in(message: EmailMessage) -> dict[str, tuple[str, str]]:
    """The e-mail's lines of cards: the masked card number, what its link does and the
    link's token."""
    return {card: (page, token) for card, _, page, token in CARD_LINE.findall(text(message))}


def test_polyu_cards_sharing_an_address_get_one_email_with_a_reset_link_for_each(
    smtp_app: tuple[App, Mailbox],
) -> None:
    app, box = smtp_app
    pins = {"21012345A": ("Z123456(1)", "Z12345", "q7x2m9"),
            "21012346B": ("A123456(3)", "A12345", "k3v8p2")}  # fmt: skip
    for card, (id_number, default, chosen) in pins.items():
        register(app, "polyu", card, id_number=id_number, email=FAMILY)
        change_secret(app.ports, ChangeRequest(card, default, chosen, chosen, Channel.WEB))
    box.envelopes.clear()
    request_reset(app.ports, ResetRequest(None, "Family@Example.org", source="10.0.0.9"))
    assert [e.rcpt_tos for e in box.envelopes] == [[FAMILY]]
    [message] = box.messages
    assert message["Subject"] == "Reset your library PINs"
    body = text(message)
    assert "21012345A" not in body
    assert "21012346B" not in body
    links = links_in(message)
    assert sorted(links) == ["21*****5A", "21*****6B"]
    assert {page for page, _ in links.values()} == {"reset"}
    assert links["21*****5A"][1] != links["21*****6B"][1]
    # Each link returns its own card's PIN to the default, and no other card's.
    revert_to_default(app.ports, links["21*****5A"][1], source="t")
    assert attempt(app, "21012345A", "Z12345").outcome is Outcome.MUST_CHANGE
    assert attempt(app, "21012346B", "k3v8p2").outcome is Outcome.OK
    revert_to_default(app.ports, links["21*****6B"][1], source="t")
    assert attempt(app, "21012346B", "A12345").outcome is Outcome.MUST_CHANGE


@pytest.mark.parametrize(
    ("language", "subject", "named"),
    [
        ("en", "Reset your library PIN", "for PolyU Pao Yue-kong Library, library card 21*****5A,"),
        (
            "zh_Hant",
            "重設你的圖書館個人密碼",
            "香港理工大學包玉剛圖書館的圖書證 21*****5A 的個人密碼",
        ),
    ],
)
def test_a_reset_link_for_one_card_names_the_card(
    smtp_app: tuple[App, Mailbox], language: str, subject: str, named: str
) -> None:
    app, box = smtp_app
    register(app, "polyu", "21012345A", id_number="Z123456(1)", email=FAMILY, language=language)
    request_reset(app.ports, ResetRequest(None, FAMILY, source="10.0.0.9"))
    [message] = box.messages
    assert message["Subject"] == subject
    assert named in text(message)
    assert re.search(r"http://\S+/polyu/reset/[\w-]+\r?$", text(message), re.MULTILINE)


@pytest.mark.parametrize(
    ("institution", "cards", "registration", "secrets", "subject"),
    [
        # HKPL without a phone, PolyU registered before 2013-06-01: no default to return
        # to and nothing set up yet, so a temporary password could not sign in either.
        ("hkpl", ("HKPL0003", "HKPL0004"), {}, ("Lib#Reader2026", "Shelf&Stack2027"),
         "Set up your library online passwords"),
        ("polyu", ("12012345A", "12012346B"), {"registered_on": date(2012, 9, 3)},
         ("q7x2m9", "k3v8p2"), "Set up your library PINs"),
    ],
)  # fmt: skip
def test_cards_with_nothing_set_up_sharing_an_address_get_one_email_with_a_set_up_link_each(
    smtp_app: tuple[App, Mailbox],
    institution: str,
    cards: tuple[str, str],
    registration: dict[str, object],
    secrets: tuple[str, str],
    subject: str,
) -> None:
    app, box = smtp_app
    for card in cards:
        register(app, institution, card, email=FAMILY, **registration)
    request_reset(app.ports, ResetRequest(None, FAMILY, source="10.0.0.9", institution=institution))
    assert [e.rcpt_tos for e in box.envelopes] == [[FAMILY]]
    [message] = box.messages
    assert message["Subject"] == subject
    masked = [f"{card[:2]}{'*' * (len(card) - 4)}{card[-2:]}" for card in cards]
    links = links_in(message)
    assert sorted(links) == masked
    assert {page for page, _ in links.values()} == {"set-up"}
    for card in cards:
        assert card not in text(message)
    # Each link sets up its own card's secret only.
    first, second = secrets
    complete_setup(app.ports, links[masked[0]][1], first, first, source="t")
    assert attempt(app, cards[0], first).outcome is Outcome.OK
    assert attempt(app, cards[1], first).outcome is Outcome.INVALID
    complete_setup(app.ports, links[masked[1]][1], second, second, source="t")
    assert attempt(app, cards[1], second).outcome is Outcome.OK
