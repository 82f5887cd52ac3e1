"""Issue 9, item 3: argon2 never runs while a unit of work is open in the same thread.

On SQLite a transaction holds the process's only write lock; a hash inside it would
hold the lock for the length of the hash. The hasher refuses, so a use case that does
it fails its own tests instead of slowing every other writer down.
"""

from __future__ import annotations

import threading

import pytest

from patronauth.bootstrap import App
from patronauth.domain.credentials import CredentialKind, CredentialState, Outcome
from patronauth.services.credentials import reset_credential
from patronauth.services.resets import ResetRequest, request_reset
from patronauth.services.transactions import HashingInTransaction, open_units
from tests.api.helpers import temporary_password
from tests.support import STAFF, attempt, hasher_of, register


def test_the_hasher_refuses_while_a_unit_of_work_is_open(app: App) -> None:
    hasher = hasher_of(app)
    stored = hasher.hash("Lib#Reader2026")
    before = hasher.computations
    with app.ports.uow():
        with pytest.raises(HashingInTransaction):
            hasher.hash("Lib#Reader2026")
        with pytest.raises(HashingInTransaction):
            hasher.verify(stored, "Lib#Reader2026")
        with pytest.raises(HashingInTransaction):
            hasher.dummy_verify("Lib#Reader2026")
        assert open_units() == 1
        assert hasher.keyed_matches(hasher.keyed("4567", salt="s"), "4567")  # HMAC: allowed
    assert hasher.computations == before  # refused before any argon2 work
    assert open_units() == 0
    assert hasher.verify(stored, "Lib#Reader2026").ok  # closed: allowed again


def test_a_unit_of_work_left_by_an_error_no_longer_counts(app: App) -> None:
    with pytest.raises(LookupError), app.ports.uow():
        raise LookupError
    assert open_units() == 0
    hasher_of(app).hash("4567")


def test_another_threads_unit_of_work_does_not_stop_this_one(app: App) -> None:
    opened, release = threading.Event(), threading.Event()

    def hold() -> None:
        with app.ports.uow():
            opened.set()
            release.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert opened.wait(10)
        assert hasher_of(app).verify(hasher_of(app).hash("4567"), "4567").ok
    finally:
        release.set()
        holder.join()


def test_the_use_cases_that_hash_do_it_outside_their_transactions(app: App) -> None:
    """A staff reset to a temporary PIN (HKU has no default: argon2), a self-service
    reset by e-mail (HKPL: a keyed digest, no argon2), and a sign-in with that temporary
    password (one argon2 for the current secret, then the temporary one checked): each
    runs without meeting the refusal."""
    register(app, "hku", "CU1234567", name="Yip Hoi Ching", email="hc.yip@example.org")
    reset = reset_credential(app.ports, "CU1234567", None, staff=STAFF)
    assert reset.state is CredentialState.TEMPORARY
    assert reset.temporary is not None
    assert attempt(app, "CU1234567", reset.temporary, kind=CredentialKind.PIN).signed_in

    register(
        app, "hkpl", "HKPL0001", name="Chan Tai Man", phone="9123 4567", email="chan@example.org"
    )
    hasher = hasher_of(app)
    before = hasher.computations
    request_reset(app.ports, ResetRequest("HKPL0001", "chan@example.org", source="t"))
    assert hasher.computations == before  # kept as a keyed digest
    # Signing in with it: the default fails, then the temporary secret is checked.
    result = attempt(app, "HKPL0001", temporary_password(app))
    assert result.outcome is Outcome.MUST_CHANGE
    assert hasher.computations == before + 1
