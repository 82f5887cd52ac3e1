"""Changing, resetting and setting up secrets; enumeration; hashing; privacy of storage."""

from __future__ import annotations

import threading
from dataclasses import replace
from email import message_from_bytes
from email.message import Message
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text

from patronauth.adapters.storage import migrate
from patronauth.adapters.storage import tables as t
from patronauth.adapters.storage.repositories import SqlCredentials
from patronauth.adapters.storage.uow import SqlUnitOfWork
from patronauth.bootstrap import App
from patronauth.domain.credentials import Channel, CredentialKind, CredentialState, Outcome
from patronauth.domain.errors import Conflict, PolicyRefused, Refused
from patronauth.services.credentials import (
    AttemptRefused,
    ChangeRequest,
    change_secret,
    reset_credential,
    set_up_credential,
)
from patronauth.services.staff import show_patron
from tests.support import STAFF, attempt, clock_of, hasher_of, make_app, register


def change(
    app: App, ident: str, current: str, new: str, confirm: str | None = None, **kw: object
) -> Outcome:
    request = ChangeRequest(ident, current, new, new if confirm is None else confirm, Channel.WEB)
    return change_secret(app.ports, replace(request, **kw)).outcome  # type: ignore[arg-type]


def outbox(app: App) -> list[Message]:
    folder = app.settings.outbox_dir
    return [message_from_bytes(p.read_bytes()) for p in sorted(Path(folder).glob("*.eml"))]


@pytest.fixture
def hkpl(app: App) -> App:
    register(
        app,
        "hkpl",
        "HKPL0001",
        name="Chan Tai Man",
        phone="9123 4567",
        email="chan@example.org",
        language="zh_Hant",
    )
    return app


def test_unknown_and_wrong_secret_cost_one_hash_each_and_answer_alike(hkpl: App) -> None:
    hasher = hasher_of(hkpl)
    change(hkpl, "HKPL0001", "4567", "Lib#Reader2026", kind=CredentialKind.PASSWORD)
    answers = []
    for identifier in ("NOBODY42", "HKPL0001"):
        before = hasher.computations
        answers.append(attempt(hkpl, identifier, "Wrong#Guess1"))
        assert hasher.computations - before == 1
    # A PIN still in its default state is stored as a keyed digest: still one hash.
    before = hasher.computations
    answers.append(attempt(hkpl, "HKPL0001", "0000", Channel.SIP2))
    assert hasher.computations - before == 1
    assert answers[0] == answers[1]
    assert answers[0].outcome is Outcome.INVALID
    assert answers[2].outcome is Outcome.INVALID
    assert answers[2].patron_id is None


def test_the_first_sign_in_with_a_default_upgrades_its_keyed_digest_to_argon2(hkpl: App) -> None:
    def stored() -> str:
        with hkpl.engine.connect() as conn:
            return str(
                conn.execute(
                    select(t.credentials.c.secret_hash).where(t.credentials.c.kind == "pin")
                ).scalar_one()
            )

    assert stored().startswith("hk:")
    assert attempt(hkpl, "HKPL0001", "4567", Channel.SIP2).outcome is Outcome.OK
    assert stored().startswith("a2:t1:$argon2id$")
    assert attempt(hkpl, "HKPL0001", "4567", Channel.SIP2).outcome is Outcome.OK


def test_an_outdated_hash_is_upgraded_on_sign_in(hkpl: App, env: dict[str, str]) -> None:
    change(hkpl, "HKPL0001", "4567", "Lib#Reader2026", kind=CredentialKind.PASSWORD)
    stronger = make_app({**env, "PATRONAUTH_ARGON2_TIME_COST": "2"})
    try:
        assert attempt(stronger, "HKPL0001", "Lib#Reader2026").outcome is Outcome.OK
        with stronger.engine.connect() as conn:
            hashed = conn.execute(
                select(t.credentials.c.secret_hash).where(t.credentials.c.kind == "password")
            ).scalar_one()
        assert ",t=2," in hashed
        assert attempt(hkpl, "HKPL0001", "Lib#Reader2026").outcome is Outcome.OK
    finally:
        stronger.close()


def test_a_rotated_pepper_key_still_verifies_and_upgrades(hkpl: App, env: dict[str, str]) -> None:
    change(hkpl, "HKPL0001", "4567", "Lib#Reader2026", kind=CredentialKind.PASSWORD)
    rotated = make_app(
        {**env, "PATRONAUTH_PEPPER": "t2 " + "ab" * 32 + ";" + env["PATRONAUTH_PEPPER"]}
    )
    try:
        assert attempt(rotated, "HKPL0001", "Lib#Reader2026").outcome is Outcome.OK
        with rotated.engine.connect() as conn:
            hashed = conn.execute(
                select(t.credentials.c.secret_hash).where(t.credentials.c.kind == "password")
            ).scalar_one()
        assert hashed.startswith("a2:t2:")
    finally:
        rotated.close()


def test_change_password_refuses_with_every_reason_and_stores_nothing(hkpl: App) -> None:
    with pytest.raises(PolicyRefused) as refused:
        change(hkpl, "HKPL0001", "4567", "Password1", kind=CredentialKind.PASSWORD)
    assert [v.code for v in refused.value.violations] == ["password.missing_special"]
    with pytest.raises(PolicyRefused) as refused:
        change(hkpl, "HKPL0001", "4567", "chan-Tai-2026!", kind=CredentialKind.PASSWORD)
    assert [v.code for v in refused.value.violations] == ["password.contains_name"]
    with pytest.raises(PolicyRefused) as refused:
        change(hkpl, "HKPL0001", "4567", "A#a91234567", kind=CredentialKind.PASSWORD)
    assert [v.code for v in refused.value.violations] == ["password.contains_phone"]
    with pytest.raises(Refused) as mismatch:
        change(
            hkpl,
            "HKPL0001",
            "4567",
            "Lib#Reader2026",
            "Lib#Reader2027",
            kind=CredentialKind.PASSWORD,
        )
    assert mismatch.value.code == "secret.confirmation_mismatch"
    with pytest.raises(PolicyRefused) as same:
        change(hkpl, "HKPL0001", "4567", "4567", kind=CredentialKind.PIN)
    assert [v.code for v in same.value.violations] == ["pin.unchanged"]
    assert attempt(hkpl, "HKPL0001", "4567").outcome is Outcome.MUST_CHANGE
    assert outbox(hkpl) == []


def test_a_wrong_current_secret_is_an_attempt_counted_in_the_lockout(hkpl: App) -> None:
    for _ in range(5):
        with pytest.raises(AttemptRefused) as refused:
            change(hkpl, "HKPL0001", "1111", "Lib#Reader2026", kind=CredentialKind.PASSWORD)
        assert refused.value.code == "login.invalid"
    with pytest.raises(AttemptRefused) as blocked:
        change(hkpl, "HKPL0001", "4567", "Lib#Reader2026", kind=CredentialKind.PASSWORD)
    assert blocked.value.code == "login.blocked"
    assert blocked.value.violations[0].params["seconds"] == 60


def test_a_change_takes_effect_and_the_patron_is_told_in_their_language(hkpl: App) -> None:
    assert change(hkpl, "HKPL0001", "4567", "Lib#Reader2026", kind=CredentialKind.PASSWORD) is (
        Outcome.MUST_CHANGE
    )
    assert attempt(hkpl, "HKPL0001", "4567").outcome is Outcome.INVALID
    assert attempt(hkpl, "HKPL0001", "Lib#Reader2026").outcome is Outcome.OK
    # The PIN is a separate credential and is still the default (R1, R4).
    assert attempt(hkpl, "HKPL0001", "4567", Channel.TELEPHONE).outcome is Outcome.OK
    (notice,) = outbox(hkpl)
    body = notice.get_payload(decode=True).decode("utf-8")  # type: ignore[union-attr]
    assert notice["To"] == "chan@example.org"
    assert "網上密碼" in body
    assert "香港公共圖書館" in body
    assert "Lib#Reader2026" not in body


def test_two_concurrent_changes_leave_exactly_one(hkpl: App) -> None:
    results: dict[str, object] = {}
    start = threading.Barrier(2)

    def run(new: str) -> None:
        start.wait()
        try:
            results[new] = change(hkpl, "HKPL0001", "4567", new, kind=CredentialKind.PASSWORD)
        except Refused as refused:
            results[new] = refused.code

    threads = [threading.Thread(target=run, args=(s,)) for s in ("First#Choice1", "Second#Choice2")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    working = [
        s for s in ("First#Choice1", "Second#Choice2") if attempt(hkpl, "HKPL0001", s).signed_in
    ]
    assert len(working) == 1
    assert attempt(hkpl, "HKPL0001", "4567").outcome is Outcome.INVALID
    loser = ({"First#Choice1", "Second#Choice2"} - set(working)).pop()
    # The loser either raced the winner to the store or came after it.
    assert results[loser] in {"credential.changed_concurrently", "login.invalid"}


class Crash(Exception):
    """The process dies after the UPDATE was sent, before the commit."""


class CrashAfterStoring(SqlCredentials):
    def replace_secret(self, *args: Any, **kwargs: Any) -> bool:
        super().replace_secret(*args, **kwargs)
        raise Crash


class CrashingUnitOfWork(SqlUnitOfWork):
    def __enter__(self) -> CrashingUnitOfWork:
        super().__enter__()
        self.credentials = CrashAfterStoring(self._conn)
        return self


def test_a_crash_between_hashing_and_storing_leaves_the_old_secret(hkpl: App) -> None:
    crashing = replace(hkpl, ports=replace(hkpl.ports, uow=lambda: CrashingUnitOfWork(hkpl.engine)))
    with pytest.raises(Crash):
        change(crashing, "HKPL0001", "4567", "Lib#Reader2026", kind=CredentialKind.PASSWORD)
    assert attempt(hkpl, "HKPL0001", "4567").outcome is Outcome.MUST_CHANGE
    assert attempt(hkpl, "HKPL0001", "Lib#Reader2026").outcome is Outcome.INVALID


def test_staff_reset_returns_to_the_default_and_ends_a_suspension(hkpl: App) -> None:
    change(hkpl, "HKPL0001", "4567", "Lib#Reader2026", kind=CredentialKind.PASSWORD)
    result = reset_credential(hkpl.ports, "HKPL0001", CredentialKind.PASSWORD, staff=STAFF)
    assert result.state is CredentialState.DEFAULT
    assert result.temporary is None
    assert attempt(hkpl, "HKPL0001", "Lib#Reader2026").outcome is Outcome.INVALID
    assert attempt(hkpl, "HKPL0001", "4567").outcome is Outcome.MUST_CHANGE


def test_hku_has_no_default_first_time_set_up_then_a_temporary_pin_from_staff(app: App) -> None:
    register(app, "hku", "CU1234567")
    assert attempt(app, "CU1234567", "anything-at-all").outcome is Outcome.INVALID
    with pytest.raises(PolicyRefused) as weak:
        set_up_credential(
            app.ports,
            "CU1234567",
            None,
            "onlyletters",
            "onlyletters",
            actor=STAFF,
            channel=Channel.STAFF,
        )
    assert [v.code for v in weak.value.violations] == ["pin.too_few_categories"]
    set_up_credential(
        app.ports,
        "CU1234567",
        None,
        "Stacks&Shelves9",
        "Stacks&Shelves9",
        actor=STAFF,
        channel=Channel.STAFF,
    )
    assert attempt(app, "CU1234567", "Stacks&Shelves9").outcome is Outcome.OK
    with pytest.raises(Conflict) as again:
        set_up_credential(
            app.ports,
            "CU1234567",
            None,
            "Other&Shelves9",
            "Other&Shelves9",
            actor=STAFF,
            channel=Channel.STAFF,
        )
    assert again.value.code == "credential.already_set_up"

    reset = reset_credential(app.ports, "CU1234567", None, staff=STAFF)
    assert reset.state is CredentialState.TEMPORARY
    assert reset.temporary is not None
    assert 10 <= len(reset.temporary) <= 20
    assert attempt(app, "CU1234567", "Stacks&Shelves9").outcome is Outcome.INVALID
    assert attempt(app, "CU1234567", reset.temporary).outcome is Outcome.MUST_CHANGE
    assert (
        attempt(app, "CU1234567", reset.temporary, Channel.SIP2).outcome is Outcome.CHANGE_REQUIRED
    )
    clock_of(app).advance(25 * 3600)
    assert attempt(app, "CU1234567", reset.temporary).outcome is Outcome.TEMPORARY_EXPIRED


def test_polyu_offers_no_set_up_to_a_patron_who_has_a_default(app: App) -> None:
    register(app, "polyu", "21012345A", id_number="Z123456(1)")
    with pytest.raises(Refused) as refused:
        set_up_credential(
            app.ports, "21012345A", None, "q7x2m9", "q7x2m9", actor=STAFF, channel=Channel.STAFF
        )
    assert refused.value.code == "credential.setup_not_offered"


def test_storage_never_holds_a_secret_a_default_or_the_id_and_phone_in_clear(hkpl: App) -> None:
    register(hkpl, "polyu", "21012345A", id_number="Z123456(1)", phone="6123 9876")
    change(hkpl, "HKPL0001", "4567", "Lib#Reader2026", kind=CredentialKind.PASSWORD)
    attempt(hkpl, "HKPL0001", "Wrong#Guess1")
    attempt(hkpl, "21012345A", "Z12345")
    forbidden = [
        "Lib#Reader2026",
        "Wrong#Guess1",
        "91234567",
        "9123 4567",
        "Z123456",
        "Z12345",
        "61239876",
    ]
    dump = []
    with hkpl.engine.connect() as conn:
        for table in t.metadata.sorted_tables:
            for row in conn.execute(select(table)):
                dump.extend(str(v) for v in row)
    text_dump = "\n".join(dump)
    for secret in forbidden:
        assert secret not in text_dump
    view = show_patron(hkpl.ports, "21012345A")
    assert view.patron.id_masked == "Z1******"
    assert view.patron.phone_masked == "61******"


def test_migrations_build_exactly_the_declared_schema(app: App) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    with app.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), t.metadata)
        version = conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
    assert diff == []
    assert version == migrate.head_revision()
