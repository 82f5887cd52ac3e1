"""Credential states, their transitions and what a correct secret opens (R5, R26, S3, S5)."""

from __future__ import annotations

import itertools

import pytest

from patronauth.domain.credentials import (
    INTERACTIVE_CHANNELS,
    TRANSITIONS,
    Channel,
    CredentialEvent,
    CredentialState,
    Outcome,
    after_verified,
    suspends,
    transition,
)
from patronauth.domain.errors import Conflict

S = CredentialState
E = CredentialEvent

# Written out in full so that any change to the table shows here.
ALLOWED: dict[tuple[CredentialState, CredentialEvent], CredentialState] = {
    (S.DEFAULT, E.CHOOSE): S.CHOSEN,
    (S.TEMPORARY, E.CHOOSE): S.CHOSEN,
    (S.CHOSEN, E.CHOOSE): S.CHOSEN,
    (S.MUST_CHANGE, E.CHOOSE): S.CHOSEN,
    (S.DEFAULT, E.RESET_TO_DEFAULT): S.DEFAULT,
    (S.TEMPORARY, E.RESET_TO_DEFAULT): S.DEFAULT,
    (S.CHOSEN, E.RESET_TO_DEFAULT): S.DEFAULT,
    (S.MUST_CHANGE, E.RESET_TO_DEFAULT): S.DEFAULT,
    (S.SUSPENDED, E.RESET_TO_DEFAULT): S.DEFAULT,
    (S.DEFAULT, E.TEMPORARY): S.TEMPORARY,
    (S.TEMPORARY, E.TEMPORARY): S.TEMPORARY,
    (S.CHOSEN, E.TEMPORARY): S.TEMPORARY,
    (S.MUST_CHANGE, E.TEMPORARY): S.TEMPORARY,
    (S.SUSPENDED, E.TEMPORARY): S.TEMPORARY,
    (S.DEFAULT, E.FORCE_CHANGE): S.DEFAULT,
    (S.TEMPORARY, E.FORCE_CHANGE): S.TEMPORARY,
    (S.CHOSEN, E.FORCE_CHANGE): S.MUST_CHANGE,
    (S.MUST_CHANGE, E.FORCE_CHANGE): S.MUST_CHANGE,
    (S.DEFAULT, E.SUSPEND): S.SUSPENDED,
    (S.TEMPORARY, E.SUSPEND): S.SUSPENDED,
    (S.CHOSEN, E.SUSPEND): S.SUSPENDED,
    (S.MUST_CHANGE, E.SUSPEND): S.SUSPENDED,
}
TABLE_EVENTS = [e for e in CredentialEvent if e is not E.UNLOCK]
PAIRS = list(itertools.product(CredentialState, TABLE_EVENTS))


def test_the_table_is_exactly_the_allowed_transitions() -> None:
    assert TRANSITIONS == ALLOWED


@pytest.mark.parametrize(("state", "event"), [p for p in PAIRS if p in ALLOWED])
def test_allowed_transition(state: CredentialState, event: CredentialEvent) -> None:
    assert transition(state, event) is ALLOWED[(state, event)]


@pytest.mark.parametrize(("state", "event"), [p for p in PAIRS if p not in ALLOWED])
def test_refused_transition(state: CredentialState, event: CredentialEvent) -> None:
    with pytest.raises(Conflict) as caught:
        transition(state, event)
    (violation,) = caught.value.violations
    assert violation.code == "credential.transition_refused"
    assert violation.params == {"state": state.value, "event": event.value}


def test_the_refused_pairs() -> None:
    refused = {p for p in PAIRS if p not in ALLOWED}
    assert refused == {
        (S.SUSPENDED, E.CHOOSE),
        (S.SUSPENDED, E.FORCE_CHANGE),
        (S.SUSPENDED, E.SUSPEND),
    }


@pytest.mark.parametrize(
    ("suspended_from", "expected"),
    [
        (S.DEFAULT, S.DEFAULT),
        (S.TEMPORARY, S.TEMPORARY),
        (S.CHOSEN, S.CHOSEN),
        (S.MUST_CHANGE, S.MUST_CHANGE),
        (None, S.MUST_CHANGE),
    ],
)
def test_unlock_returns_to_the_state_the_suspension_interrupted(
    suspended_from: CredentialState | None, expected: CredentialState
) -> None:
    assert transition(S.SUSPENDED, E.UNLOCK, suspended_from=suspended_from) is expected


@pytest.mark.parametrize("state", [s for s in CredentialState if s is not S.SUSPENDED])
def test_unlock_needs_a_suspended_credential(state: CredentialState) -> None:
    with pytest.raises(Conflict) as caught:
        transition(state, E.UNLOCK, suspended_from=S.CHOSEN)
    assert [v.code for v in caught.value.violations] == ["credential.not_suspended"]


# --- after_verified ----------------------------------------------------------------

CHANNELS = (
    Channel.WEB,
    Channel.APP,
    Channel.SIP2,
    Channel.TELEPHONE,
    Channel.STAFF,
    Channel.PROXY,
)
TERMINALS = frozenset({Channel.SIP2, Channel.TELEPHONE})  # HKPL's default PIN (S5)
NOWHERE: frozenset[Channel] = frozenset()
MC, CR, OK, SU = Outcome.MUST_CHANGE, Outcome.CHANGE_REQUIRED, Outcome.OK, Outcome.SUSPENDED

#  state, change_due, default accepted on  ->  web, app, sip2, telephone, staff, proxy
AFTER_VERIFIED = [
    (S.DEFAULT, False, TERMINALS, (MC, MC, OK, OK, CR, CR)),
    (S.DEFAULT, False, NOWHERE, (MC, MC, CR, CR, CR, CR)),
    (S.DEFAULT, True, TERMINALS, (MC, MC, CR, CR, CR, CR)),
    (S.DEFAULT, True, NOWHERE, (MC, MC, CR, CR, CR, CR)),
    (S.DEFAULT, False, frozenset({Channel.SIP2}), (MC, MC, OK, CR, CR, CR)),
    (S.TEMPORARY, False, TERMINALS, (MC, MC, CR, CR, CR, CR)),
    (S.TEMPORARY, False, NOWHERE, (MC, MC, CR, CR, CR, CR)),
    (S.TEMPORARY, True, TERMINALS, (MC, MC, CR, CR, CR, CR)),
    (S.MUST_CHANGE, False, TERMINALS, (MC, MC, CR, CR, CR, CR)),
    (S.MUST_CHANGE, False, NOWHERE, (MC, MC, CR, CR, CR, CR)),
    (S.MUST_CHANGE, True, NOWHERE, (MC, MC, CR, CR, CR, CR)),
    (S.CHOSEN, False, TERMINALS, (OK, OK, OK, OK, OK, OK)),
    (S.CHOSEN, False, NOWHERE, (OK, OK, OK, OK, OK, OK)),
    (S.CHOSEN, True, TERMINALS, (MC, MC, CR, CR, CR, CR)),
    (S.CHOSEN, True, NOWHERE, (MC, MC, CR, CR, CR, CR)),
    (S.SUSPENDED, False, TERMINALS, (SU, SU, SU, SU, SU, SU)),
    (S.SUSPENDED, True, NOWHERE, (SU, SU, SU, SU, SU, SU)),
]


@pytest.mark.parametrize(
    ("state", "change_due", "accepted", "channel", "outcome"),
    [
        (state, due, accepted, channel, outcome)
        for state, due, accepted, outcomes in AFTER_VERIFIED
        for channel, outcome in zip(CHANNELS, outcomes, strict=True)
    ],
)
def test_after_verified(
    state: CredentialState,
    change_due: bool,
    accepted: frozenset[Channel],
    channel: Channel,
    outcome: Outcome,
) -> None:
    found = after_verified(state, channel, default_accepted_on=accepted, change_due=change_due)
    assert found is outcome


def test_every_state_and_channel_is_in_the_table() -> None:
    covered = {(state, due) for state, due, _, _ in AFTER_VERIFIED}
    assert {state for state, _ in covered} == set(CredentialState)
    assert set(CHANNELS) == set(Channel)
    assert {Channel.WEB, Channel.APP} == INTERACTIVE_CHANNELS


@pytest.mark.parametrize(
    ("outcome", "signed_in", "reason"),
    [
        (Outcome.OK, True, "login.ok"),
        (Outcome.MUST_CHANGE, True, "login.must_change"),
        (Outcome.INVALID, False, "login.invalid"),
        (Outcome.BLOCKED, False, "login.blocked"),
        (Outcome.THROTTLED, False, "login.throttled"),
        (Outcome.SUSPENDED, False, "login.suspended"),
        (Outcome.PENDING_REGISTRATION, False, "login.pending_registration"),
        (Outcome.BARRED, False, "login.barred"),
        (Outcome.CHANGE_REQUIRED, False, "login.change_required"),
        (Outcome.TEMPORARY_EXPIRED, False, "login.temporary_expired"),
    ],
)
def test_outcomes(outcome: Outcome, signed_in: bool, reason: str) -> None:
    assert outcome.signed_in is signed_in
    assert outcome.reason == reason


@pytest.mark.parametrize(
    ("consecutive_failures", "cap", "expected"),
    [
        (0, 10, False),
        (9, 10, False),
        (10, 10, True),
        (11, 10, True),
        (29, 30, False),
        (30, 30, True),
        (0, 1, False),
        (1, 1, True),
    ],
)
def test_suspends(consecutive_failures: int, cap: int, expected: bool) -> None:
    assert suspends(consecutive_failures, cap) is expected
