"""Signing in on every channel: the seed libraries' examples, end to end over storage."""

from __future__ import annotations

from datetime import date

import pytest

from patronauth.bootstrap import App
from patronauth.domain.credentials import Channel, CredentialKind, Outcome
from patronauth.services.credentials import ChangeRequest, change_secret
from patronauth.services.staff import complete_registration, force_change, replace_card
from tests.support import STAFF, attempt, clock_of, register


def test_hkpl_default_is_the_last_four_phone_digits_and_opens_only_the_change_step(
    app: App,
) -> None:
    register(app, "hkpl", "HKPL0001", phone="9123 4567")
    assert attempt(app, "HKPL0001", "4567", Channel.WEB).outcome is Outcome.MUST_CHANGE
    assert attempt(app, "HKPL0001", "4567", Channel.APP).outcome is Outcome.MUST_CHANGE
    # HKPL accepts the default PIN at self-checkout and by telephone (S5).
    assert attempt(app, "HKPL0001", "4567", Channel.SIP2).outcome is Outcome.OK
    assert attempt(app, "HKPL0001", "4567", Channel.TELEPHONE).outcome is Outcome.OK


def test_polyu_default_pin_is_not_accepted_at_a_terminal(app: App) -> None:
    register(app, "polyu", "21012345A", id_number="Z123456(1)")
    assert attempt(app, "21012345A", "Z12345", Channel.SIP2).outcome is Outcome.CHANGE_REQUIRED
    assert attempt(app, "21012345A", "Z12345", Channel.WEB).outcome is Outcome.MUST_CHANGE


def test_pending_registration_answers_with_the_contact_text(app: App) -> None:
    register(
        app,
        "hkct",
        "S2019001",
        category="staff",
        staff_number="S2019001",
        registered_on=date(2019, 9, 2),
        pending=True,
    )
    result = attempt(app, "S2019001", "S2019001")
    assert result.outcome is Outcome.PENDING_REGISTRATION
    assert "2265 6918" in result.contact["en"]
    assert "lib@hkct.edu.hk" in result.contact["zh_Hant"]
    complete_registration(app.ports, "S2019001", staff=STAFF)
    assert attempt(app, "S2019001", "S2019001").outcome is Outcome.MUST_CHANGE


def test_a_replaced_card_no_longer_signs_in_and_the_new_one_keeps_the_credentials(
    app: App,
) -> None:
    register(app, "hkpl", "HKPL0001", phone="9123 4567")
    replace_card(app.ports, "HKPL0001", "HKPL0099", staff=STAFF)
    assert attempt(app, "HKPL0001", "4567").outcome is Outcome.INVALID
    assert attempt(app, "HKPL0099", "4567").outcome is Outcome.MUST_CHANGE


def test_migrate_force_change_makes_the_next_login_must_change(app: App) -> None:
    register(app, "hku", "SP7654321", category="space")
    from patronauth.services.credentials import set_up_credential

    set_up_credential(
        app.ports,
        "SP7654321",
        CredentialKind.PIN,
        "Quiet!Stacks22",
        "Quiet!Stacks22",
        actor=STAFF,
        channel=Channel.STAFF,
    )
    assert attempt(app, "SP7654321", "Quiet!Stacks22").outcome is Outcome.OK
    force_change(app.ports, "hku", date(2026, 11, 25), categories=["space"], staff=STAFF)
    assert attempt(app, "SP7654321", "Quiet!Stacks22").outcome is Outcome.OK  # before go-live
    clock_of(app).advance(86400)
    assert attempt(app, "SP7654321", "Quiet!Stacks22").outcome is Outcome.MUST_CHANGE
    assert (
        attempt(app, "SP7654321", "Quiet!Stacks22", Channel.SIP2).outcome is Outcome.CHANGE_REQUIRED
    )
    change_secret(
        app.ports,
        ChangeRequest(
            "SP7654321", "Quiet!Stacks22", "Brand-new-PIN-7", "Brand-new-PIN-7", Channel.WEB
        ),
    )
    assert attempt(app, "SP7654321", "Brand-new-PIN-7").outcome is Outcome.OK


@pytest.mark.parametrize("typed", ["hkpl0001", " HKPL 0001 ", "ＨＫＰＬ０００１"])
def test_case_spaces_and_full_width_forms_are_one_identifier(app: App, typed: str) -> None:
    register(app, "hkpl", "HKPL0001", phone="9123 4567")
    assert attempt(app, typed, "4567").outcome is Outcome.MUST_CHANGE
