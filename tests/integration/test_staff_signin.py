"""Staff sign-in at the service level: enrolment, both factors, and the attacks the
console must refuse and audit (TOTP replay and wrong window, WebAuthn for another
origin or with a replayed counter, the 6th wrong password in a minute)."""

from __future__ import annotations

from urllib.parse import urlsplit

import pyotp
import pytest

from patronauth.bootstrap import App, staff_ports
from patronauth.domain.errors import PolicyRefused, Refused
from patronauth.domain.staff import Role, StaffStatus, Stage
from patronauth.services.interfaces import StaffPorts
from patronauth.services.staffaccounts import (
    add_staff,
    current_staff,
    disable_staff,
    enrol,
    open_enrolment,
    sign_in_password,
    sign_in_second_factor,
    webauthn_options,
)
from tests.console.authenticator import SoftKey
from tests.console.conftest import PASSWORD, enrolled
from tests.support import clock_of

ORIGIN = "http://127.0.0.1:8000"  # the test deployment's public address


def _audit(app: App, action: str) -> list[tuple[str, str, str]]:
    with app.ports.uow() as uow:
        events = uow.staff.audit(institutions=None, limit=500)
    return [(e.event.actor, e.event.outcome, e.event.detail.get("reason", "")) for e in events
            if e.event.action == action]  # fmt: skip


def _token(link: str) -> str:
    return urlsplit(link).path.rsplit("/", 1)[1]


def _refused(expected: str, call: object, *args: object, **kwargs: object) -> Refused:
    with pytest.raises(Refused) as caught:
        call(*args, **kwargs)  # type: ignore[operator]
    assert caught.value.code == expected, caught.value.violations
    return caught.value


def test_totp_sign_in_takes_both_factors_and_opens_a_new_session(app: App) -> None:
    secret = enrolled(app, "amy", Role.COUNTER, ["hkpl"])
    sp = staff_ports(app)
    pending = sign_in_password(sp, "amy", PASSWORD, source="t")
    assert pending.session.stage is Stage.PASSWORD
    # The password alone reaches nothing of the console.
    _refused("staff.session_missing", current_staff, sp, pending.token)
    code = pyotp.TOTP(secret).at(clock_of(app).now())
    opened = sign_in_second_factor(sp, pending.token, code=code, source="t")
    assert opened.token != pending.token
    assert current_staff(sp, opened.token).member.login == "amy"
    _refused("staff.session_ended", current_staff, sp, pending.token, stage=Stage.PASSWORD)
    assert ("staff:amy", "ok", "") in _audit(app, "staff.second_factor")


def test_a_totp_code_counts_once(app: App) -> None:
    secret = enrolled(app, "amy", Role.COUNTER, ["hkpl"])
    sp = staff_ports(app)
    code = pyotp.TOTP(secret).at(clock_of(app).now())
    first = sign_in_password(sp, "amy", PASSWORD, source="t")
    sign_in_second_factor(sp, first.token, code=code, source="t")
    again = sign_in_password(sp, "amy", PASSWORD, source="t")
    _refused("staff.totp_replayed", sign_in_second_factor, sp, again.token, code=code, source="t")
    assert ("staff:amy", "staff.totp_replayed", "staff.totp_replayed") in _audit(
        app, "staff.second_factor"
    )


@pytest.mark.parametrize(
    ("offset", "accepted"),
    [(0, True), (-30, True), (30, True), (-60, False), (60, False), (-300, False)],
)
def test_one_step_of_clock_drift_and_no_more(app: App, offset: int, accepted: bool) -> None:
    secret = enrolled(app, "amy", Role.COUNTER, ["hkpl"])
    sp = staff_ports(app)
    clock_of(app).advance(120)
    now = clock_of(app).now().timestamp()
    code = pyotp.TOTP(secret).at(now + offset)
    pending = sign_in_password(sp, "amy", PASSWORD, source="t")
    if accepted:
        sign_in_second_factor(sp, pending.token, code=code, source="t")
        return
    if code == pyotp.TOTP(secret).at(now):  # a one-in-a-million collision
        pytest.skip("the far code happens to equal the current one")
    _refused("staff.totp_invalid", sign_in_second_factor, sp, pending.token, code=code, source="t")
    assert ("staff:amy", "staff.totp_invalid", "staff.totp_invalid") in _audit(
        app, "staff.second_factor"
    )


def test_the_sixth_wrong_password_in_a_minute_is_refused_even_with_the_right_one(
    app: App,
) -> None:
    enrolled(app, "amy", Role.COUNTER, ["hkpl"])
    sp = staff_ports(app)
    for _ in range(5):
        _refused(
            "staff.sign_in_failed", sign_in_password, sp, "amy", "Wrong#Password-1", source="t"
        )
        clock_of(app).advance(5)
    refused = _refused("staff.blocked", sign_in_password, sp, "amy", PASSWORD, source="t")
    assert int(refused.violations[0].params["seconds"]) > 0
    outcomes = [outcome for _, outcome, _ in _audit(app, "staff.sign_in")]
    assert outcomes.count("staff.sign_in_failed") == 5
    assert outcomes[0] == "staff.blocked"  # newest first
    # A patron's identifier with the same letters is counted apart.
    assert app.ports.counter.blocked_for("amy", clock_of(app).now().timestamp()) == 0


def test_unknown_logins_and_enrolling_accounts_are_refused_alike(app: App) -> None:
    sp = staff_ports(app)
    add_staff(sp, "bob", "Bob", Role.COUNTER, ["hkpl"], by="staff:test")
    _refused("staff.sign_in_failed", sign_in_password, sp, "nobody", PASSWORD, source="t")
    _refused("staff.sign_in_failed", sign_in_password, sp, "bob", PASSWORD, source="t")


def test_the_enrolment_link_works_once_and_for_24_hours(app: App) -> None:
    sp = staff_ports(app)
    added = add_staff(sp, "amy", "Amy", Role.COUNTER, ["hkpl"], by="staff:test")
    late = add_staff(sp, "ben", "Ben", Role.COUNTER, ["hkpl"], by="staff:test")
    token = _token(added.link)
    offer = open_enrolment(sp, token)
    code = pyotp.TOTP(offer.totp_secret).at(clock_of(app).now())
    member = enrol(sp, token, PASSWORD, PASSWORD, code=code, source="t")
    assert member.status is StaffStatus.ACTIVE
    assert member.has_totp
    _refused("staff.enrolment_invalid", open_enrolment, sp, token)
    clock_of(app).advance(24 * 3600 + 1)
    _refused("staff.enrolment_invalid", open_enrolment, sp, _token(late.link))


@pytest.mark.parametrize(
    ("password", "codes"),
    [
        ("Short#1a", {"password.too_short"}),
        ("lowercase#only2026", {"password.missing_upper"}),
        ("Password123!", {"password.common"}),
        ("Leung#Desk-2026x", {"password.contains_name"}),
        ("Aaaa#Counter-2026", {"password.trivial.repeated_char"}),
    ],
)
def test_the_staff_password_policy(app: App, password: str, codes: set[str]) -> None:
    sp = staff_ports(app)
    added = add_staff(sp, "amy", "Amy Leung", Role.COUNTER, ["hkpl"], by="staff:test")
    token = _token(added.link)
    offer = open_enrolment(sp, token)
    code = pyotp.TOTP(offer.totp_secret).at(clock_of(app).now())
    with pytest.raises(PolicyRefused) as caught:
        enrol(sp, token, password, password, code=code, source="t")
    assert {v.code for v in caught.value.violations} == codes


def test_a_disabled_account_is_signed_out_and_cannot_sign_in(app: App) -> None:
    secret = enrolled(app, "amy", Role.COUNTER, ["hkpl"])
    sp = staff_ports(app)
    pending = sign_in_password(sp, "amy", PASSWORD, source="t")
    code = pyotp.TOTP(secret).at(clock_of(app).now())
    opened = sign_in_second_factor(sp, pending.token, code=code, source="t")
    disable_staff(sp, "amy", by="staff:test")
    _refused("staff.session_ended", current_staff, sp, opened.token)
    _refused("staff.sign_in_failed", sign_in_password, sp, "amy", PASSWORD, source="t")


def test_console_sessions_end_after_15_minutes_idle_and_8_hours_in_all(app: App) -> None:
    secret = enrolled(app, "amy", Role.COUNTER, ["hkpl"])
    sp = staff_ports(app)
    clock = clock_of(app)

    def sign_in() -> str:
        pending = sign_in_password(sp, "amy", PASSWORD, source="t")
        clock.advance(30)
        code = pyotp.TOTP(secret).at(clock.now())
        return sign_in_second_factor(sp, pending.token, code=code, source="t").token

    idle = sign_in()
    clock.advance(15 * 60)
    _refused("staff.session_idle", current_staff, sp, idle)
    busy = sign_in()
    for _ in range(34):  # 7 h 56 min of work, never 15 minutes idle
        clock.advance(14 * 60)
        current_staff(sp, busy)
    clock.advance(14 * 60)
    _refused("staff.session_expired", current_staff, sp, busy)


# --- WebAuthn ---------------------------------------------------------------------------


def _key_member(app: App) -> tuple[StaffPorts, SoftKey]:
    sp = staff_ports(app)
    added = add_staff(sp, "kim", "Kim", Role.SUPERVISOR, ["hkpl"], by="staff:test")
    token = _token(added.link)
    offer = open_enrolment(sp, token)
    key = SoftKey("127.0.0.1")
    enrol(
        sp, token, PASSWORD, PASSWORD, webauthn=key.register(offer.webauthn_options, ORIGIN),
        source="t",
    )  # fmt: skip
    return sp, key


def test_a_security_key_signs_in(app: App) -> None:
    sp, key = _key_member(app)
    pending = sign_in_password(sp, "kim", PASSWORD, source="t")
    options = webauthn_options(sp, pending.token)
    opened = sign_in_second_factor(
        sp, pending.token, webauthn=key.sign(options, ORIGIN), source="t"
    )
    assert current_staff(sp, opened.token).member.webauthn_keys == 1


def test_an_assertion_made_for_another_origin_is_refused_and_audited(app: App) -> None:
    sp, key = _key_member(app)
    pending = sign_in_password(sp, "kim", PASSWORD, source="t")
    options = webauthn_options(sp, pending.token)
    forged = key.sign(options, "https://staff-login.example.net")
    _refused(
        "staff.webauthn_invalid",
        sign_in_second_factor,
        sp,
        pending.token,
        webauthn=forged,
        source="t",
    )
    assert ("staff:kim", "staff.webauthn_invalid", "staff.webauthn_invalid") in _audit(
        app, "staff.second_factor"
    )


def test_a_replayed_signature_counter_is_refused_and_audited(app: App) -> None:
    sp, key = _key_member(app)
    pending = sign_in_password(sp, "kim", PASSWORD, source="t")
    sign_in_second_factor(
        sp, pending.token, webauthn=key.sign(webauthn_options(sp, pending.token), ORIGIN),
        source="t",
    )  # fmt: skip
    # A cloned key signs with the counter the original used already.
    again = sign_in_password(sp, "kim", PASSWORD, source="t")
    cloned = key.sign(webauthn_options(sp, again.token), ORIGIN, count=key.count)
    _refused(
        "staff.webauthn_replayed",
        sign_in_second_factor,
        sp,
        again.token,
        webauthn=cloned,
        source="t",
    )
    assert ("staff:kim", "staff.webauthn_replayed", "staff.webauthn_replayed") in _audit(
        app, "staff.second_factor"
    )


def test_an_assertion_counts_for_one_challenge_only(app: App) -> None:
    sp, key = _key_member(app)
    pending = sign_in_password(sp, "kim", PASSWORD, source="t")
    assertion = key.sign(webauthn_options(sp, pending.token), ORIGIN)
    sign_in_second_factor(sp, pending.token, webauthn=assertion, source="t")
    again = sign_in_password(sp, "kim", PASSWORD, source="t")
    webauthn_options(sp, again.token)  # a new challenge
    _refused(
        "staff.webauthn_invalid",
        sign_in_second_factor,
        sp,
        again.token,
        webauthn=assertion,
        source="t",
    )
