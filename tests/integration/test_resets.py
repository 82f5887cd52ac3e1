"""R7, R14, R23 without staff: temporary passwords, revert links, first-time set-up."""

from __future__ import annotations

import re
from datetime import date
from email import message_from_bytes
from email.message import Message
from pathlib import Path

import pytest

from patronauth.bootstrap import App
from patronauth.domain.credentials import Channel, CredentialKind, Outcome
from patronauth.domain.errors import NotFound, PolicyRefused
from patronauth.services.credentials import ChangeRequest, change_secret
from patronauth.services.interfaces import ActionPurpose
from patronauth.services.resets import (
    ResetRequest,
    complete_setup,
    open_link,
    request_reset,
    request_setup,
    revert_to_default,
)
from tests.support import attempt, clear_of_the_minute_edge, clock_of, make_app, register


def mails(app: App) -> list[Message]:
    folder = Path(app.settings.outbox_dir)
    return [message_from_bytes(p.read_bytes()) for p in sorted(folder.glob("*.eml"))]


def body(message: Message) -> str:
    payload = message.get_payload(decode=True)
    assert isinstance(payload, bytes)
    return payload.decode("utf-8")


def link_token(message: Message) -> str:
    match = re.search(r"https?://\S+/(?:set-up|reset)/(\S+)", body(message))
    assert match is not None
    return match.group(1)


def reset(app: App, identifier: str | None = None, email: str | None = None) -> None:
    request_reset(app.ports, ResetRequest(identifier, email, source="10.0.0.9"))


@pytest.fixture
def hkpl(app: App) -> App:
    register(app, "hkpl", "HKPL0001", phone="9123 4567", email="chan@example.org")
    change_secret(
        app.ports,
        ChangeRequest("HKPL0001", "4567", "Lib#Reader2026", "Lib#Reader2026", Channel.WEB),
    )
    return app


def test_hkpl_sends_a_temporary_password_that_works_once_the_old_one_until_then(hkpl: App) -> None:
    reset(hkpl, email="Chan@Example.org")
    (mail,) = [m for m in mails(hkpl) if "temporary" in m["Subject"]]
    match = re.search(r"is: (\S+)", body(mail))
    assert match is not None
    temporary = match.group(1)
    # S5: asking for a reset locks nobody out.
    assert attempt(hkpl, "HKPL0001", "Lib#Reader2026").outcome is Outcome.OK
    assert attempt(hkpl, "HKPL0001", temporary).outcome is Outcome.MUST_CHANGE
    assert attempt(hkpl, "HKPL0001", "Lib#Reader2026").outcome is Outcome.INVALID


def test_the_temporary_password_expires_after_a_day(hkpl: App) -> None:
    reset(hkpl, identifier="HKPL0001", email="chan@example.org")
    (mail,) = [m for m in mails(hkpl) if "temporary" in m["Subject"]]
    match = re.search(r"is: (\S+)", body(mail))
    assert match is not None
    clock_of(hkpl).advance(24 * 3600 + 1)
    assert attempt(hkpl, "HKPL0001", match.group(1)).outcome is Outcome.INVALID
    assert attempt(hkpl, "HKPL0001", "Lib#Reader2026").outcome is Outcome.OK


@pytest.mark.parametrize(
    ("identifier", "email"),
    [
        (None, "nobody@example.org"),
        ("HKPL0001", "someone-else@example.org"),
        ("HKPL9999", "chan@example.org"),
        (None, "not an address"),
        ("<script>", "chan@example.org"),
        (None, None),
    ],
)
def test_details_that_do_not_match_send_nothing_and_say_nothing(
    hkpl: App, identifier: str | None, email: str | None
) -> None:
    before = len(mails(hkpl))
    reset(hkpl, identifier, email)  # no exception: the answer is always the same
    assert len(mails(hkpl)) == before


def test_polyu_resets_online_to_the_default_through_a_one_time_link(app: App) -> None:
    register(app, "polyu", "21012345A", id_number="Z123456(1)", email="ky@example.org")
    change_secret(app.ports, ChangeRequest("21012345A", "Z12345", "q7x2m9", "q7x2m9", Channel.WEB))
    reset(app, "21012345A", "ky@example.org")
    (mail,) = [m for m in mails(app) if "Reset" in m["Subject"]]
    token = link_token(mail)
    assert attempt(app, "21012345A", "q7x2m9").outcome is Outcome.OK  # nothing yet
    assert open_link(app.ports, token, ActionPurpose.REVERT_TO_DEFAULT).kind is CredentialKind.PIN
    revert_to_default(app.ports, token, source="t")
    assert attempt(app, "21012345A", "Z12345").outcome is Outcome.MUST_CHANGE
    with pytest.raises(NotFound) as used:
        revert_to_default(app.ports, token, source="t")
    assert used.value.code == "link.invalid"


def test_a_polyu_family_gets_a_reset_link_and_a_set_up_link_each_naming_its_card(
    app: App,
) -> None:
    """One card has a default to return to, the other (registered before 2013-06-01)
    nothing set up yet: each e-mail names its card, and each link does what it says."""
    register(app, "polyu", "21012345A", id_number="Z123456(1)", email="ky@example.org")
    register(app, "polyu", "12012345A", email="ky@example.org", registered_on=date(2012, 9, 3))
    reset(app, email="ky@example.org")
    by_subject = {m["Subject"]: body(m) for m in mails(app)}
    assert sorted(by_subject) == ["Reset your library PIN", "Set up your library PIN"]
    assert "library card 21*****5A," in by_subject["Reset your library PIN"]
    assert "/polyu/reset/" in by_subject["Reset your library PIN"]
    assert "library card 12*****5A," in by_subject["Set up your library PIN"]
    assert "/polyu/set-up/" in by_subject["Set up your library PIN"]


def test_polyu_sends_no_link_to_a_pin_with_no_default_to_return_to(app: App) -> None:
    register(app, "polyu", "12012345A", email="early@example.org", registered_on=date(2012, 9, 3))
    request_setup(app.ports, ResetRequest("12012345A", "early@example.org", source="t"))
    complete_setup(app.ports, link_token(mails(app)[0]), "q7x2m9", "q7x2m9", source="t")
    before = len(mails(app))
    reset(app, email="early@example.org")
    assert len(mails(app)) == before  # the counter issues a temporary PIN (R27)
    with app.ports.uow() as uow:
        outcomes = [
            e.event.outcome for e in uow.audit.recent() if e.event.action == "reset.request"
        ]
    assert outcomes == ["in_person_only"]


def test_hku_first_time_set_up_through_the_card_number_and_registered_address(app: App) -> None:
    register(app, "hku", "CU1234567", email="hc.yip@example.org")
    request_setup(app.ports, ResetRequest("CU1234567", "wrong@example.org", source="t"))
    assert mails(app) == []
    request_setup(app.ports, ResetRequest("cu1234567", "hc.yip@example.org", source="t"))
    (mail,) = mails(app)
    token = link_token(mail)
    with pytest.raises(PolicyRefused) as weak:
        complete_setup(app.ports, token, "Sh0rt!", "Sh0rt!", source="t")
    assert [v.code for v in weak.value.violations] == ["pin.too_short"]
    complete_setup(app.ports, token, "Stacks&Shelves9", "Stacks&Shelves9", source="t")
    assert attempt(app, "CU1234567", "Stacks&Shelves9").outcome is Outcome.OK
    with pytest.raises(NotFound):
        complete_setup(app.ports, token, "Other&Shelves9", "Other&Shelves9", source="t")
    request_setup(app.ports, ResetRequest("CU1234567", "hc.yip@example.org", source="t"))
    assert len(mails(app)) == 2  # the set-up mail and the change notice, no second link


def test_a_link_expires_after_a_day(app: App) -> None:
    register(app, "hku", "CU1234567", email="hc.yip@example.org")
    request_setup(app.ports, ResetRequest("CU1234567", "hc.yip@example.org", source="t"))
    token = link_token(mails(app)[0])
    clock_of(app).advance(24 * 3600 + 1)
    with pytest.raises(NotFound):
        open_link(app.ports, token, ActionPurpose.SET_UP)


def test_reset_requests_from_one_source_are_throttled_silently(env: dict[str, str]) -> None:
    app = make_app({**env, "PATRONAUTH_THROTTLE_PER_SOURCE": "2 per minute"})
    try:
        register(app, "hkpl", "HKPL0001", phone="9123 4567", email="chan@example.org")
        clear_of_the_minute_edge()
        for _ in range(5):
            reset(app, email="chan@example.org")
        assert len(mails(app)) == 2
    finally:
        app.close()
