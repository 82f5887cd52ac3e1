"""R1 at the wire: a SIP2 patron request on a channel the patron's library does not offer
is refused before anything is counted, whatever the secret: a library whose profile
leaves SIP2 out, and HKCT's missing telephone line reached through a telephone box that
speaks SIP2."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date
from email import message_from_bytes
from importlib import resources
from pathlib import Path

import pytest

from patronauth.bootstrap import App
from patronauth.domain.credentials import Channel, Outcome
from patronauth.domain.errors import Refused
from patronauth.domain.identifiers import lockout_key
from patronauth.domain.terminals import TerminalOptions
from patronauth.services.credentials import ChangeRequest, change_secret
from patronauth.services.interfaces import AuditEvent
from patronauth.services.terminals import add_terminal
from patronauth.sip2.messages import BLANK_DATE
from tests.sip2.conftest import TERMINAL_PASSWORD, connect, request, running
from tests.sip2.test_wire import checked
from tests.support import STAFF, attempt, make_app, register
from tests.support import test_env as deployment_env

CARD = "20181234"  # an HKCT student card; its default is the student number (R16)
CHOSEN = "Quiet#Reading7"
WRONG = "Wrong#Guess42"


def without_sip2(folder: Path) -> Path:
    """HKCT's shipped profile with its `sip2` channel left out, as a profile folder."""
    text = resources.files("patronauth.profiles").joinpath("hkct.toml").read_text("utf-8")
    lines = text.splitlines(keepends=True)
    kept = [line for line in lines if not line.startswith("sip2 = ")]
    assert len(kept) == len(lines) - 1
    folder.mkdir(parents=True)
    (folder / "hkct.toml").write_text("".join(kept), "utf-8")
    return folder


def choose_password(app: App) -> None:
    """HKCT's first change of a default waits for the code it e-mails (issue 10, item 18)."""
    with pytest.raises(Refused) as sent:
        change_secret(app.ports, ChangeRequest(CARD, CARD, CHOSEN, CHOSEN, Channel.WEB))
    assert sent.value.code == "change.code_sent"
    (mail,) = Path(app.settings.outbox_dir).glob("*.eml")
    payload = message_from_bytes(mail.read_bytes()).get_payload(decode=True)
    assert isinstance(payload, bytes)
    found = re.search(r"is: (\S+)", payload.decode("utf-8"))
    assert found is not None
    request = ChangeRequest(CARD, CARD, CHOSEN, CHOSEN, Channel.WEB, code=found.group(1))
    change_secret(app.ports, request)


def hkct_status(secret: str) -> bytes:
    return request(
        "23",
        {"language": "001", "date": BLANK_DATE},
        ("AO", "hkct"), ("AA", CARD), ("AC", ""), ("AD", secret),
    )  # fmt: skip


def sign_ins(app: App) -> list[AuditEvent]:
    with app.ports.uow() as uow:
        return [e.event for e in uow.audit.recent(limit=500) if e.event.action == "sign_in"]


@pytest.fixture(params=["library without sip2", "hkct telephone box"])
def offered(
    request: pytest.FixtureRequest, database_url: str, tmp_path: Path
) -> Iterator[tuple[App, str, Channel]]:
    """An HKCT patron with a chosen password, and a terminal on a channel HKCT does not
    offer: its login and the channel its requests count as."""
    extra = {}
    channel = Channel.TELEPHONE
    if request.param == "library without sip2":
        extra["PATRONAUTH_PROFILES_DIR"] = str(without_sip2(tmp_path / "profiles"))
        channel = Channel.SIP2
    app = make_app(deployment_env(database_url, tmp_path / "var", **extra))
    try:
        register(
            app, "hkct", CARD, student_number=CARD, registered_on=date(2019, 9, 2),
            email="student@example.org",
        )  # fmt: skip
        choose_password(app)
        for login, on in (("kiosk1", Channel.SIP2), ("ivr1", Channel.TELEPHONE)):
            add_terminal(
                app.ports, login=login, institution="hkct", password=TERMINAL_PASSWORD,
                options=TerminalOptions(channel=on), staff=STAFF,
            )  # fmt: skip
        yield app, "kiosk1" if channel is Channel.SIP2 else "ivr1", channel
    finally:
        app.close()


def test_a_request_on_a_channel_not_offered_is_refused_and_counts_no_attempt(
    offered: tuple[App, str, Channel],
) -> None:
    app, login, channel = offered
    # HKCT blocks a card after 5 wrong attempts: 7 counted guesses would block it.
    secrets = [CHOSEN, *[WRONG] * 7, CHOSEN]
    with running(app, idle_seconds=30.0) as server, connect(server, login=login) as terminal:
        replies = [checked(terminal.ask(hkct_status(secret))) for secret in secrets]
    assert {(r["code"], r["BL"], r["CQ"]) for r in replies} == {("24", "Y", "N")}
    events = sign_ins(app)
    assert [(e.channel, e.outcome, e.detail.get("reason")) for e in events] == [
        (channel.value, "refused", "channel.not_offered")
    ] * len(secrets)
    # Refused before the patron was looked up: the audit names no patron.
    assert {e.patron_id for e in events} == {None}
    # Nothing was counted: the card is not blocked and its password still works.
    now = app.ports.clock.now().timestamp()
    assert app.ports.counter.blocked_for(lockout_key(CARD), now) == 0
    assert attempt(app, CARD, CHOSEN).outcome is Outcome.OK


@pytest.mark.parametrize("offered", ["hkct telephone box"], indirect=True)
def test_the_same_card_at_a_kiosk_of_the_library_is_answered(
    offered: tuple[App, str, Channel],
) -> None:
    """The refusal is the channel's: HKCT offers SIP2, so its kiosks check the password."""
    app, _, _ = offered
    with running(app, idle_seconds=30.0) as server, connect(server, login="kiosk1") as kiosk:
        right = checked(kiosk.ask(hkct_status(CHOSEN)))
        wrong = checked(kiosk.ask(hkct_status(WRONG)))
    assert (right["BL"], right["CQ"]) == ("Y", "Y")
    assert (wrong["BL"], wrong["CQ"]) == ("Y", "N")
    outcomes = sorted((e.channel, e.outcome) for e in sign_ins(app))
    assert outcomes == [("sip2", "invalid"), ("sip2", "ok")]
