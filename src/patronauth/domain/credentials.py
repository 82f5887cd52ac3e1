"""Credentials, their states and what a successful sign-in opens (S5).

The state machine is the table `TRANSITIONS`; anything not in it is refused.
"""

from __future__ import annotations

from collections.abc import Collection
from enum import StrEnum

from patronauth.domain.errors import Conflict


class CredentialKind(StrEnum):
    PASSWORD = "password"  # noqa: S105 (a kind, not a secret)
    PIN = "pin"


class Channel(StrEnum):
    WEB = "web"
    APP = "app"
    SIP2 = "sip2"
    TELEPHONE = "telephone"
    STAFF = "staff"
    PROXY = "proxy"  # the e-resource proxy's external check


INTERACTIVE_CHANNELS = frozenset({Channel.WEB, Channel.APP})


class CredentialState(StrEnum):
    DEFAULT = "default"
    TEMPORARY = "temporary"
    CHOSEN = "chosen"
    MUST_CHANGE = "must_change"
    SUSPENDED = "suspended"


class CredentialEvent(StrEnum):
    CHOOSE = "choose"  # the patron sets a secret that passed the policy
    RESET_TO_DEFAULT = "reset_to_default"  # staff or self-service reset where a default exists
    TEMPORARY = "temporary"  # a temporary secret replaces the current one
    FORCE_CHANGE = "force_change"  # migration or policy upgrade
    SUSPEND = "suspend"  # the consecutive-failure cap was reached
    UNLOCK = "unlock"  # staff lift a suspension


_S = CredentialState
_E = CredentialEvent
_ANY = tuple(_S)
_USABLE = (_S.DEFAULT, _S.TEMPORARY, _S.CHOSEN, _S.MUST_CHANGE)

TRANSITIONS: dict[tuple[CredentialState, CredentialEvent], CredentialState] = {
    **{(s, _E.CHOOSE): _S.CHOSEN for s in _USABLE},
    **{(s, _E.RESET_TO_DEFAULT): _S.DEFAULT for s in _ANY},
    **{(s, _E.TEMPORARY): _S.TEMPORARY for s in _ANY},
    (_S.CHOSEN, _E.FORCE_CHANGE): _S.MUST_CHANGE,
    (_S.MUST_CHANGE, _E.FORCE_CHANGE): _S.MUST_CHANGE,
    (_S.DEFAULT, _E.FORCE_CHANGE): _S.DEFAULT,
    (_S.TEMPORARY, _E.FORCE_CHANGE): _S.TEMPORARY,
    **{(s, _E.SUSPEND): _S.SUSPENDED for s in _USABLE},
}


def transition(
    state: CredentialState,
    event: CredentialEvent,
    *,
    suspended_from: CredentialState | None = None,
) -> CredentialState:
    """The state after `event`; UNLOCK returns to the state the suspension interrupted."""
    if event is CredentialEvent.UNLOCK:
        if state is not CredentialState.SUSPENDED:
            raise Conflict.of("credential.not_suspended")
        return suspended_from or CredentialState.MUST_CHANGE
    try:
        return TRANSITIONS[(state, event)]
    except KeyError:
        raise Conflict.of(
            "credential.transition_refused", state=state.value, event=event.value
        ) from None


class Outcome(StrEnum):
    """What an attempt comes to; every channel renders these."""

    OK = "ok"
    MUST_CHANGE = "ok must-change"
    INVALID = "invalid"
    BLOCKED = "blocked"
    THROTTLED = "throttled"
    SUSPENDED = "suspended"
    PENDING_REGISTRATION = "pending-registration"
    BARRED = "barred"
    CHANGE_REQUIRED = "change-required"
    TEMPORARY_EXPIRED = "temporary-expired"
    NOT_PROVISIONED = "not-provisioned"  # the directory knows the patron, the library not yet

    @property
    def signed_in(self) -> bool:
        return self in {Outcome.OK, Outcome.MUST_CHANGE}

    @property
    def reason(self) -> str:
        return "login." + self.name.lower()


def after_verified(
    state: CredentialState,
    channel: Channel,
    *,
    default_accepted_on: Collection[Channel],
    change_due: bool,
) -> Outcome:
    """What a correct secret opens on `channel` (R5, S5, R26).

    Interactive channels open only the change step for a default, temporary or
    must-change credential; terminals and the telephone cannot show that step, so they
    accept a default only where the profile allows it and otherwise refuse.
    """
    if state is CredentialState.SUSPENDED:
        return Outcome.SUSPENDED
    needs_change = change_due or state in {
        CredentialState.DEFAULT,
        CredentialState.TEMPORARY,
        CredentialState.MUST_CHANGE,
    }
    if not needs_change:
        return Outcome.OK
    if channel in INTERACTIVE_CHANNELS:
        return Outcome.MUST_CHANGE
    if state is CredentialState.DEFAULT and not change_due and channel in default_accepted_on:
        return Outcome.OK
    return Outcome.CHANGE_REQUIRED


def suspends(consecutive_failures: int, cap: int) -> bool:
    """S3: the consecutive-failure cap, which time does not reset, suspends the credential."""
    return consecutive_failures >= cap
