"""HKCT's default is the card number: its first change is confirmed by a one-time code
sent to the registered e-mail (profile option `confirm_default_change_by_email`)."""

from __future__ import annotations

import re
from datetime import date, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import pytest

from patronauth.bootstrap import App
from patronauth.domain.credentials import Channel, CredentialKind, Outcome
from patronauth.domain.errors import Refused
from patronauth.services.credentials import ChangeRequest, change_secret
from tests.support import attempt, clock_of, register

CARD = "S2019001"
NEW = "Lib#Reader2026"


def mails(app: App) -> list[EmailMessage]:
    found = []
    for path in sorted(Path(app.settings.outbox_dir).glob("*.eml")):
        message = message_from_bytes(path.read_bytes(), policy=policy.default)
        assert isinstance(message, EmailMessage)
        found.append(message)
    return found


def code_in(message: EmailMessage) -> str:
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    found = re.search(r"is: (\S+)", str(body.get_content()))
    assert found is not None
    return found.group(1)


def change(app: App, current: str = CARD, code: str | None = None, new: str = NEW) -> None:
    change_secret(
        app.ports,
        ChangeRequest(CARD, current, new, new, Channel.WEB, CredentialKind.PASSWORD, code=code),
    )


def refusal(app: App, **kwargs: str | None) -> str:
    with pytest.raises(Refused) as refused:
        change(app, **kwargs)  # type: ignore[arg-type]
    return refused.value.code


@pytest.fixture
def hkct(app: App) -> App:
    register(
        app, "hkct", CARD, category="staff", staff_number=CARD,
        registered_on=date(2019, 9, 2), email="staff@example.org",
    )  # fmt: skip
    return app


def test_the_first_change_of_a_default_waits_for_the_code_sent_by_e_mail(hkct: App) -> None:
    assert refusal(hkct) == "change.code_sent"
    assert attempt(hkct, CARD, CARD).outcome is Outcome.MUST_CHANGE  # nothing changed yet
    (mail,) = mails(hkct)
    assert (mail["To"], mail["Subject"]) == ("staff@example.org", "Your library confirmation code")
    code = code_in(mail)
    assert re.fullmatch(r"[A-HJ-NP-Z2-9]{8}", code)
    assert refusal(hkct, code="WRONGCOD") == "change.code_invalid"
    change(hkct, code=code.lower()[:4] + "-" + code[4:])  # case and a dash do not matter
    assert attempt(hkct, CARD, NEW).outcome is Outcome.OK


def test_a_code_works_once_for_fifteen_minutes_and_never_with_a_wrong_current(
    hkct: App,
) -> None:
    assert refusal(hkct) == "change.code_sent"
    old = code_in(mails(hkct)[-1])
    clock_of(hkct).advance(int(timedelta(minutes=16).total_seconds()))
    assert refusal(hkct, code=old) == "change.code_invalid"
    assert refusal(hkct) == "change.code_sent"
    fresh = code_in(mails(hkct)[-1])
    with pytest.raises(Refused) as wrong_current:
        change(hkct, current="not-the-default", code=fresh)
    assert wrong_current.value.code == "login.invalid"
    change(hkct, code=fresh)
    # Once chosen, later changes need no code; the used code is worth nothing.
    change_secret(
        hkct.ports,
        ChangeRequest(CARD, NEW, "Other#Reader27", "Other#Reader27", Channel.WEB,
                      CredentialKind.PASSWORD, code=fresh),
    )  # fmt: skip
    assert attempt(hkct, CARD, "Other#Reader27").outcome is Outcome.OK


def test_a_policy_refusal_comes_before_any_code_is_sent(hkct: App) -> None:
    assert refusal(hkct, new="short") == "password.too_short"
    assert mails(hkct) == []


def test_codes_sent_to_one_patron_are_limited(hkct: App) -> None:
    for _ in range(5):
        assert refusal(hkct) == "change.code_sent"
    assert refusal(hkct) == "change.code_limit"
    assert len(mails(hkct)) == 5


def test_without_a_registered_address_the_change_is_for_the_counter(app: App) -> None:
    register(app, "hkct", CARD, category="staff", staff_number=CARD, registered_on=date(2019, 9, 2))
    assert refusal(app) == "change.code_no_email"
    assert attempt(app, CARD, CARD).outcome is Outcome.MUST_CHANGE


def test_libraries_without_the_option_change_defaults_at_once(app: App) -> None:
    register(app, "hkpl", "HKPL0001", phone="9123 4567", email="chan@example.org")
    change_secret(
        app.ports,
        ChangeRequest("HKPL0001", "4567", NEW, NEW, Channel.WEB, CredentialKind.PASSWORD),
    )
    assert attempt(app, "HKPL0001", NEW).outcome is Outcome.OK
