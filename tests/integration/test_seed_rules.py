"""The seeds' rules read line by line: which credential a channel takes (R1), the
library's dates (every effective date in the profile's time zone), and the smaller
points of the help pages."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from email import message_from_bytes
from email.message import Message
from pathlib import Path

import pytest

from patronauth.adapters.clock import ManualClock
from patronauth.bootstrap import App
from patronauth.domain.credentials import Channel, CredentialKind, CredentialState, Outcome
from patronauth.domain.errors import InvalidInput, PolicyRefused
from patronauth.services.credentials import (
    ChangeRequest,
    change_secret,
    reset_credential,
    set_up_credential,
)
from patronauth.services.lookup import find_patron
from patronauth.services.policy import check_secret
from patronauth.services.resets import ResetRequest, complete_setup, request_reset, request_setup
from tests.support import STAFF, attempt, make_app, register


def _mails(app: App) -> list[Message]:
    folder = Path(app.settings.outbox_dir)
    return [message_from_bytes(p.read_bytes()) for p in sorted(folder.glob("*.eml"))]


def _body(message: Message) -> str:
    payload = message.get_payload(decode=True)
    assert isinstance(payload, bytes)
    return payload.decode("utf-8")


def _audit_outcomes(app: App) -> list[tuple[str, str, str]]:
    with app.ports.uow() as uow:
        stored = uow.audit.recent()
    return [(s.event.action, s.event.outcome, s.event.detail.get("reason", "")) for s in stored]


# --- R1: a sign-in takes the credential its channel is mapped to --------------------


@pytest.mark.parametrize("institution", [None, "hkpl"])
def test_hkpl_app_and_web_refuse_the_pin_and_count_nothing(
    app: App, institution: str | None
) -> None:
    register(app, "hkpl", "HKPL0001", phone="9123 4567")
    for channel in (Channel.APP, Channel.WEB):
        with pytest.raises(InvalidInput) as refused:
            attempt(app, "HKPL0001", "4567", channel, CredentialKind.PIN, institution=institution)
        assert refused.value.code == "credential.not_for_channel"
    # A request error is no failed attempt: five more wrong PINs at a kiosk are still
    # needed to block the card, and the refusals are in the audit trail.
    for _ in range(5):
        assert attempt(app, "HKPL0001", "0000", Channel.SIP2).outcome is Outcome.INVALID
    assert attempt(app, "HKPL0001", "4567", Channel.SIP2).outcome is Outcome.BLOCKED
    refusals = [o for o in _audit_outcomes(app) if o[1] == "refused"]
    assert refusals == [("sign_in", "refused", "credential.not_for_channel")] * 2


def test_the_credential_mapped_to_the_channel_may_be_named(app: App) -> None:
    register(app, "hkpl", "HKPL0001", phone="9123 4567")
    result = attempt(app, "HKPL0001", "4567", Channel.APP, CredentialKind.PASSWORD)
    assert result.outcome is Outcome.MUST_CHANGE
    assert attempt(app, "HKPL0001", "4567", Channel.SIP2, CredentialKind.PIN).outcome is Outcome.OK
    with pytest.raises(InvalidInput) as refused:
        attempt(app, "HKPL0001", "4567", Channel.SIP2, CredentialKind.PASSWORD)
    assert refused.value.code == "credential.not_for_channel"


@pytest.mark.parametrize("institution", [None, "hkct"])
def test_hkct_offers_no_telephone_line(app: App, institution: str | None) -> None:
    register(app, "hkct", "20181234", student_number="20181234", registered_on=date(2019, 9, 2))
    with pytest.raises(InvalidInput) as refused:
        attempt(app, "20181234", "20181234", Channel.TELEPHONE, institution=institution)
    assert refused.value.code == "channel.not_offered"
    assert attempt(app, "20181234", "20181234", Channel.WEB).outcome is Outcome.MUST_CHANGE


def test_the_pin_is_still_changed_on_the_web(app: App) -> None:
    """R6: HKPL changes its PIN from My Account: only sign-ins are bound to the channel."""
    register(app, "hkpl", "HKPL0001", phone="9123 4567")
    request = ChangeRequest("HKPL0001", "4567", "80281", "80281", Channel.WEB, CredentialKind.PIN)
    assert change_secret(app.ports, request).outcome is Outcome.MUST_CHANGE  # the default PIN
    assert attempt(app, "HKPL0001", "80281", Channel.SIP2).outcome is Outcome.OK


# --- dates are the library's dates -------------------------------------------------


@pytest.mark.parametrize(
    ("moment", "works", "refused"),
    [
        # 2018-07-31 23:59 HKT: still the HKID rule.
        (datetime(2018, 7, 31, 15, 59, tzinfo=UTC), "A12345", "20181234"),
        # 2018-08-01 01:00 HKT (still 31 July in UTC): the student number.
        (datetime(2018, 7, 31, 17, 0, tzinfo=UTC), "20181234", "A12345"),
    ],
)
def test_hkct_registration_day_is_taken_on_hong_kong_time(
    env: dict[str, str], moment: datetime, works: str, refused: str
) -> None:
    app = make_app(env, ManualClock(moment))
    try:
        register(app, "hkct", "20181234", id_number="A123456(3)", student_number="20181234")
        assert attempt(app, "20181234", works).outcome is Outcome.MUST_CHANGE
        assert attempt(app, "20181234", refused).outcome is Outcome.INVALID
    finally:
        app.close()


@pytest.mark.parametrize(
    ("set_at", "outcome"),
    [
        # 2017-07-16 23:59 HKT: set before go-live, so changed at the next sign-in.
        (datetime(2017, 7, 16, 15, 59, tzinfo=UTC), Outcome.MUST_CHANGE),
        # 2017-07-17 01:00 HKT, go-live day (16 July in UTC): no forced change.
        (datetime(2017, 7, 16, 17, 0, tzinfo=UTC), Outcome.OK),
    ],
)
def test_hku_go_live_day_is_taken_on_hong_kong_time(
    env: dict[str, str], set_at: datetime, outcome: Outcome
) -> None:
    clock = ManualClock(set_at)
    app = make_app(env, clock)
    try:
        register(app, "hku", "CU1234567", registered_on=date(2016, 9, 1))
        pin = "Stacks&Shelves9"
        set_up_credential(
            app.ports, "CU1234567", None, pin, pin, actor=STAFF, channel=Channel.STAFF
        )
        clock.advance(3600)
        assert attempt(app, "CU1234567", pin).outcome is outcome
    finally:
        app.close()


@pytest.mark.parametrize(
    ("moment", "violations"),
    [
        # 2021-12-31 23:59 HKT: the 2021 rule (no special character needed).
        (datetime(2021, 12, 31, 15, 59, tzinfo=UTC), []),
        # 2022-01-01 01:00 HKT (still 2021 in UTC): the current rule.
        (datetime(2021, 12, 31, 17, 0, tzinfo=UTC), ["password.missing_special"]),
    ],
)
def test_hkpl_password_rule_changes_at_midnight_hong_kong_time(
    env: dict[str, str], moment: datetime, violations: list[str]
) -> None:
    app = make_app(env, ManualClock(moment))
    try:
        found = check_secret(app.ports, "hkpl", CredentialKind.PASSWORD, "Reading2021x")
        assert [v.code for v in found] == violations
        register(app, "hkpl", "HKPL0001", phone="9123 4567")
        request = ChangeRequest("HKPL0001", "4567", "Reading2021x", "Reading2021x", Channel.WEB)
        if violations:
            with pytest.raises(PolicyRefused) as refused:
                change_secret(app.ports, request)
            assert [v.code for v in refused.value.violations] == violations
        else:
            change_secret(app.ports, request)
    finally:
        app.close()


def test_profile_day_of_uses_the_library_zone(app: App) -> None:
    profile = app.ports.profiles.get("hkpl")
    assert profile.day_of(datetime(2021, 12, 31, 17, 0, tzinfo=UTC)) == date(2022, 1, 1)
    assert profile.day_of(datetime(2021, 12, 31, 15, 59, tzinfo=UTC)) == date(2021, 12, 31)


# --- case: the letters of a default built from an ID number ------------------------


def test_a_default_from_an_id_number_signs_in_with_its_letters_in_either_case(app: App) -> None:
    register(app, "polyu", "21012345A", id_number="AB98765432", id_type="passport")
    assert attempt(app, "21012345A", "ab9876").outcome is Outcome.MUST_CHANGE
    assert attempt(app, "21012345A", "aB9876", Channel.SIP2).outcome is Outcome.CHANGE_REQUIRED
    assert attempt(app, "21012345A", "AB9876").outcome is Outcome.MUST_CHANGE
    # Only a default's letters: a chosen PIN keeps its case.
    change_secret(app.ports, ChangeRequest("21012345A", "ab9876", "q7X2m9", "q7X2m9", Channel.WEB))
    assert attempt(app, "21012345A", "q7X2m9").outcome is Outcome.OK
    assert attempt(app, "21012345A", "Q7X2M9").outcome is Outcome.INVALID


@pytest.mark.parametrize(
    ("current", "new", "code"),
    [
        ("AB9876", "ab9876", "pin.unchanged"),
        ("ab9876", "Ab9876", "pin.unchanged"),
        ("AB9876", "AB9876", "pin.unchanged"),
    ],
)
def test_a_case_only_change_of_an_id_default_is_refused(
    app: App, current: str, new: str, code: str
) -> None:
    register(app, "polyu", "21012345A", id_number="AB98765432", id_type="passport")
    with pytest.raises(PolicyRefused) as refused:
        change_secret(app.ports, ChangeRequest("21012345A", current, new, new, Channel.WEB))
    assert [v.code for v in refused.value.violations] == [code]
    assert attempt(app, "21012345A", "AB9876").outcome is Outcome.MUST_CHANGE


def test_a_later_pin_equal_to_the_default_in_another_case_is_refused(app: App) -> None:
    register(app, "polyu", "21012345A", id_number="AB98765432", id_type="passport")
    change_secret(app.ports, ChangeRequest("21012345A", "AB9876", "q7x2m9", "q7x2m9", Channel.WEB))
    with pytest.raises(PolicyRefused) as refused:
        change_secret(
            app.ports, ChangeRequest("21012345A", "q7x2m9", "ab9876", "ab9876", Channel.WEB)
        )
    assert [v.code for v in refused.value.violations] == ["pin.same_as_default"]


# --- smaller seed points ------------------------------------------------------------


@pytest.mark.parametrize(
    ("pin", "codes"),
    [
        ("Stacks&Shelves9", []),
        ("Bibliothek2026", []),
        ("Bibliothèque2026", ["pin.not_ascii"]),  # a non-ASCII letter
        ("Stacks&Shelves９", ["pin.not_ascii"]),  # a full-width digit
        ("圖書館圖書館圖書館2026", ["pin.not_ascii"]),
    ],
)
def test_hku_pins_take_letters_a_to_z_and_digits_0_to_9(
    app: App, pin: str, codes: list[str]
) -> None:
    found = check_secret(app.ports, "hku", CredentialKind.PIN, pin)
    assert [v.code for v in found] == codes


@pytest.mark.parametrize(
    ("student_number", "refused"),
    [("20181234", False), ("2018123", True), ("201812345", True), ("S2018123", True)],
)
def test_hkct_student_numbers_are_eight_digits(
    app: App, student_number: str, refused: bool
) -> None:
    fields = {"student_number": student_number, "registered_on": date(2019, 9, 2)}
    if refused:
        with pytest.raises(InvalidInput) as wrong:
            register(app, "hkct", "20181234", **fields)
        assert wrong.value.code == "student_number.invalid"
        return
    register(app, "hkct", "20181234", **fields)
    assert attempt(app, "20181234", student_number).outcome is Outcome.MUST_CHANGE


# --- patrons registered without a default ------------------------------------------


def test_hkpl_patron_without_a_phone_is_registered_without_a_default(app: App) -> None:
    register(app, "hkpl", "HKPL0003", email="nophone@example.org")
    with app.ports.uow() as uow:
        found = find_patron(uow, app.ports.profiles, "HKPL0003")
        assert found is not None
        assert uow.credentials.for_patron(found.patron.id) == []
    assert attempt(app, "HKPL0003", "4567").outcome is Outcome.INVALID
    # First-time set-up by e-mail (the registered address only) ...
    request_setup(app.ports, ResetRequest("HKPL0003", "nophone@example.org", source="t"))
    (mail,) = _mails(app)
    token = re.search(r"/hkpl/set-up/(\S+)", _body(mail))
    assert token is not None
    complete_setup(app.ports, token.group(1), "Lib#Reader2026", "Lib#Reader2026", source="t")
    assert attempt(app, "HKPL0003", "Lib#Reader2026").outcome is Outcome.OK
    # ... and the PIN from the counter: a temporary one where no default exists.
    reset = reset_credential(app.ports, "HKPL0003", CredentialKind.PIN, staff=STAFF)
    assert reset.state is CredentialState.TEMPORARY
    assert reset.temporary
    assert attempt(app, "HKPL0003", reset.temporary, Channel.SIP2).outcome is (
        Outcome.CHANGE_REQUIRED
    )


def test_hkct_passport_holder_gets_no_default_from_the_hkid_rule(app: App) -> None:
    register(app, "hkct", "16071234", id_number="XY12345678", registered_on=date(2016, 7, 4))
    assert attempt(app, "16071234", "Y12345").outcome is Outcome.INVALID
    assert attempt(app, "16071234", "y12345").outcome is Outcome.INVALID
    reset = reset_credential(app.ports, "16071234", None, staff=STAFF)
    assert reset.state is CredentialState.TEMPORARY
    assert reset.temporary
    assert attempt(app, "16071234", reset.temporary).outcome is Outcome.MUST_CHANGE
    # An HKID holder registered the same day keeps the seed's default.
    register(app, "hkct", "16071235", id_number="A123456(3)", registered_on=date(2016, 7, 4))
    assert attempt(app, "16071235", "A12345").outcome is Outcome.MUST_CHANGE


def test_polyu_patron_registered_before_june_2013_sets_up_the_pin_by_email(app: App) -> None:
    register(app, "polyu", "12012345A", email="early@example.org", registered_on=date(2012, 9, 3))
    request_setup(app.ports, ResetRequest("12012345A", "early@example.org", source="t"))
    (mail,) = _mails(app)
    token = re.search(r"/polyu/set-up/(\S+)", _body(mail))
    assert token is not None
    complete_setup(app.ports, token.group(1), "q7x2m9", "q7x2m9", source="t")
    assert attempt(app, "12012345A", "q7x2m9").outcome is Outcome.OK
    # A patron who has a default is sent no set-up link.
    register(app, "polyu", "21012345A", id_number="Z123456(1)", email="ky@example.org")
    request_setup(app.ports, ResetRequest("21012345A", "ky@example.org", source="t"))
    assert [m["Subject"] for m in _mails(app)].count(mail["Subject"]) == 1


# --- a temporary secret works once --------------------------------------------------


def test_an_e_mailed_temporary_password_signs_in_once(app: App) -> None:
    register(app, "hkpl", "HKPL0001", phone="9123 4567", email="chan@example.org")
    change_secret(
        app.ports,
        ChangeRequest("HKPL0001", "4567", "Lib#Reader2026", "Lib#Reader2026", Channel.WEB),
    )
    request_reset(app.ports, ResetRequest(None, "chan@example.org", source="t"))
    (mail,) = [m for m in _mails(app) if "temporary" in m["Subject"]]
    found = re.search(r"is: (\S+)", _body(mail))
    assert found is not None
    temporary = found.group(1)
    assert attempt(app, "HKPL0001", temporary).outcome is Outcome.MUST_CHANGE
    assert attempt(app, "HKPL0001", temporary).outcome is Outcome.TEMPORARY_EXPIRED
    assert attempt(app, "HKPL0001", temporary, Channel.APP).outcome is Outcome.TEMPORARY_EXPIRED
    # The change step it opened still takes it as the current password.
    request = ChangeRequest("HKPL0001", temporary, "New#Reader2027", "New#Reader2027", Channel.WEB)
    change_secret(app.ports, request)
    assert attempt(app, "HKPL0001", "New#Reader2027").outcome is Outcome.OK


def test_a_temporary_password_from_the_counter_signs_in_once(app: App) -> None:
    register(app, "hkct", "16071234", id_number="XY12345678", registered_on=date(2016, 7, 4))
    reset = reset_credential(app.ports, "16071234", None, staff=STAFF)
    assert reset.temporary is not None
    # A kiosk cannot show the change step, so it does not use the temporary up.
    assert attempt(app, "16071234", reset.temporary, Channel.SIP2).outcome is (
        Outcome.CHANGE_REQUIRED
    )
    assert attempt(app, "16071234", reset.temporary, Channel.APP).outcome is Outcome.MUST_CHANGE
    assert attempt(app, "16071234", reset.temporary).outcome is Outcome.TEMPORARY_EXPIRED
    # A new reset gives a new temporary that works once again.
    again = reset_credential(app.ports, "16071234", None, staff=STAFF)
    assert again.temporary is not None
    assert attempt(app, "16071234", again.temporary).outcome is Outcome.MUST_CHANGE


# --- shared e-mail addresses; times in e-mails ---------------------------------------


def test_cards_sharing_an_address_get_one_email_naming_each_card(app: App) -> None:
    for card, phone in (("HKPL0001", "9123 4567"), ("HKPL0002", "6123 9876")):
        register(app, "hkpl", card, phone=phone, email="family@example.org")
    request_reset(app.ports, ResetRequest(None, "Family@Example.org", source="t"))
    (mail,) = _mails(app)
    assert mail["Subject"] == "Your temporary library online passwords"
    text = _body(mail)
    assert "HKPL0001" not in text
    assert "HKPL0002" not in text
    issued = dict(re.findall(r"^(HK\*{4}0[12]): (\S+)\r?$", text, re.MULTILINE))
    assert sorted(issued) == ["HK****01", "HK****02"]
    first, second = issued["HK****01"], issued["HK****02"]
    assert first != second
    # Each temporary password is its own card's.
    assert attempt(app, "HKPL0001", second).outcome is Outcome.INVALID
    assert attempt(app, "HKPL0001", first).outcome is Outcome.MUST_CHANGE
    assert attempt(app, "HKPL0002", second).outcome is Outcome.MUST_CHANGE


def test_a_reset_email_names_its_card_and_states_hong_kong_time(app: App) -> None:
    register(app, "hkpl", "HKPL0001", phone="9123 4567", email="chan@example.org")
    request_reset(app.ports, ResetRequest("HKPL0001", "chan@example.org", source="t"))
    (mail,) = _mails(app)
    text = _body(mail)
    assert "library card HK****01," in text
    # The test clock is 2026-11-24 10:00 UTC: 18:00 in Hong Kong; a day's lifetime.
    assert "until 2026-11-25 18:00 HKT" in text
    assert "UTC" not in text
