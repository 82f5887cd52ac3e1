"""Staff roles, the staff session's timeouts and the TOTP step rule, as tables."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from patronauth.domain.errors import InvalidInput
from patronauth.domain.staff import (
    LEAST_ROLE,
    Action,
    Role,
    StaffSession,
    Stage,
    may,
    parse_institutions,
    parse_login,
    totp_step_usable,
)

START = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
BUSY = START + timedelta(hours=7, minutes=50)  # used all day

# Which role may do what: the console's whole permission table.
TABLE = {
    Action.SEARCH: (True, True, True),
    Action.VIEW_PATRON: (True, True, True),
    Action.RESET: (True, True, True),
    Action.UNLOCK: (True, True, True),
    Action.REPLACE_CARD: (True, True, True),
    Action.COMPLETE_REGISTRATION: (True, True, True),
    Action.RECORD_PAYMENT: (True, True, True),
    Action.FORCE_CHANGE: (False, True, True),
    Action.TERMINALS: (False, True, True),
    Action.SIGN_ON: (False, True, True),
    Action.AUDIT: (False, True, True),
    Action.MANAGE_STAFF: (False, False, True),
}


def test_the_table_names_every_action() -> None:
    assert set(TABLE) == set(Action) == set(LEAST_ROLE)


@pytest.mark.parametrize(("action", "allowed"), TABLE.items())
def test_what_each_role_may_do(action: Action, allowed: tuple[bool, bool, bool]) -> None:
    roles = (Role.COUNTER, Role.SUPERVISOR, Role.ADMIN)
    assert tuple(may(role, action) for role in roles) == allowed


def _session(stage: Stage = Stage.FULL, **changes: object) -> StaffSession:
    values: dict[str, object] = {
        "id": 1, "staff_id": 1, "stage": stage, "started_at": START, "last_seen_at": START,
        "verified_at": START, "revoked": False,
    }  # fmt: skip
    values.update(changes)
    return StaffSession(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("session", "after", "problem"),
    [
        (_session(), timedelta(minutes=14, seconds=59), None),
        (_session(), timedelta(minutes=15), "staff.session_idle"),
        (_session(last_seen_at=BUSY), timedelta(hours=8), "staff.session_expired"),
        (_session(last_seen_at=BUSY), timedelta(hours=7, minutes=59), None),
        (_session(revoked=True), timedelta(0), "staff.session_ended"),
        (_session(Stage.PASSWORD), timedelta(minutes=4), None),
        (_session(Stage.PASSWORD), timedelta(minutes=5), "staff.session_expired"),
    ],
)  # fmt: skip
def test_staff_session_timeouts(
    session: StaffSession, after: timedelta, problem: str | None
) -> None:
    assert session.problem(START + after) == problem


@pytest.mark.parametrize(
    ("step", "last", "code"),
    [(100, None, None), (100, 99, None), (100, 100, "staff.totp_replayed"),
     (99, 100, "staff.totp_replayed"), (None, 5, "staff.totp_invalid")],
)  # fmt: skip
def test_a_totp_step_counts_once(step: int | None, last: int | None, code: str | None) -> None:
    problem = totp_step_usable(step, last)
    assert (problem.code if problem else None) == code


def test_the_second_factor_is_fresh_for_five_minutes() -> None:
    session = _session()
    assert session.recently_verified(START + timedelta(minutes=4, seconds=59))
    assert not session.recently_verified(START + timedelta(minutes=5))
    assert not _session(verified_at=None).recently_verified(START)


@pytest.mark.parametrize("raw", ["", "a", "1abc", "Amy Chan", "x" * 33, "amy;drop"])
def test_staff_logins_refused(raw: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_login(raw)
    assert caught.value.code == "staff.login_invalid"


def test_institutions_must_be_known_and_at_least_one() -> None:
    assert parse_institutions(["hkpl", " hku ", "hkpl"], ["hkpl", "hku"]) == ("hkpl", "hku")
    with pytest.raises(InvalidInput) as none:
        parse_institutions([" "], ["hkpl"])
    assert none.value.code == "staff.institution_missing"
    with pytest.raises(InvalidInput) as unknown:
        parse_institutions(["mars"], ["hkpl"])
    assert unknown.value.code == "institution.unknown"
