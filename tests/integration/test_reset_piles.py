"""Issue 10 and 15: resets do not pile up temporary secrets, links or e-mails, and a
sign-in costs one argon2 computation whatever the card's state, so its timing tells
nothing and a full hashing pool never leaves a judged guess uncounted."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from email import message_from_bytes
from email.message import Message
from pathlib import Path

import pytest
from sqlalchemy import func, select

from patronauth.adapters.hash_pool import HashPool
from patronauth.adapters.hashing import Argon2Hasher, Argon2Parameters
from patronauth.adapters.storage import tables
from patronauth.bootstrap import App, keyring, with_ports
from patronauth.domain.credentials import Channel, CredentialKind, Outcome
from patronauth.domain.errors import NotFound
from patronauth.services.credentials import ChangeRequest, change_secret
from patronauth.services.interfaces import ActionPurpose
from patronauth.services.lookup import find_patron
from patronauth.services.resets import ResetRequest, open_link, request_reset
from tests.support import attempt, hasher_of, make_app, register
from tests.support import test_env as deployment_env

PASSWORD = "Lib#Reader2026"


def mails(app: App) -> list[Message]:
    folder = Path(app.settings.outbox_dir)
    return [message_from_bytes(p.read_bytes()) for p in sorted(folder.glob("*.eml"))]


def temporary_in(message: Message) -> str:
    payload = message.get_payload(decode=True)
    assert isinstance(payload, bytes)
    found = re.search(r"is: (\S+)", payload.decode("utf-8"))
    assert found is not None
    return found.group(1)


def reset(app: App, identifier: str | None = None, email: str | None = None) -> None:
    request_reset(app.ports, ResetRequest(identifier, email, source="10.0.0.9"))


def live_temporaries(app: App) -> int:
    ts = tables.temporary_secrets
    with app.engine.connect() as conn:
        query = select(func.count()).where(ts.c.used_at.is_(None), ts.c.voided_at.is_(None))
        return int(conn.execute(query.select_from(ts)).scalar_one())


@pytest.fixture
def hkpl(app: App) -> App:
    register(app, "hkpl", "HKPL0001", phone="9123 4567", email="chan@example.org")
    change_secret(app.ports, ChangeRequest("HKPL0001", "4567", PASSWORD, PASSWORD, Channel.WEB))
    return app


def test_a_new_temporary_password_voids_the_one_before(hkpl: App) -> None:
    reset(hkpl, email="chan@example.org")
    reset(hkpl, email="chan@example.org")
    first, second = (temporary_in(m) for m in mails(hkpl) if "temporary" in m["Subject"])
    assert live_temporaries(hkpl) == 1
    assert attempt(hkpl, "HKPL0001", first).outcome is Outcome.INVALID
    assert attempt(hkpl, "HKPL0001", second).outcome is Outcome.MUST_CHANGE


def test_a_new_link_voids_the_one_before(app: App) -> None:
    register(app, "polyu", "21012345A", id_number="Z123456(1)", email="ky@example.org")
    change_secret(app.ports, ChangeRequest("21012345A", "Z12345", "q7x2m9", "q7x2m9", Channel.WEB))
    reset(app, "21012345A", "ky@example.org")
    reset(app, "21012345A", "ky@example.org")
    tokens = [
        re.search(r"/reset/(\S+)", str(m.get_payload(decode=True), "utf-8")).group(1)  # type: ignore[union-attr]
        for m in mails(app)
        if "Reset" in m["Subject"]
    ]
    assert len(tokens) == 2
    with pytest.raises(NotFound):
        open_link(app.ports, tokens[0], ActionPurpose.REVERT_TO_DEFAULT)
    assert open_link(app.ports, tokens[1], ActionPurpose.REVERT_TO_DEFAULT).kind is (
        CredentialKind.PIN
    )


def test_reset_e_mails_are_limited_per_card_and_per_address(app: App) -> None:
    register(app, "hkpl", "HKPL0001", phone="9123 4567", email="family@example.org")
    register(app, "hkpl", "HKPL0002", phone="9123 7654", email="family@example.org")
    for _ in range(5):
        reset(app, "HKPL0001", "family@example.org")
    assert len(mails(app)) == 3  # three an hour for the card
    reset(app, "HKPL0002", "family@example.org")
    assert len(mails(app)) == 3  # and three an hour for the address
    with app.ports.uow() as uow:
        outcomes = [e.event.outcome for e in uow.audit.recent(limit=10)]
    assert outcomes.count("mail_limited") == 3


def argon2_of(app: App, identifier: str, secret: str) -> tuple[Outcome, int]:
    hasher = hasher_of(app)
    before = hasher.computations
    outcome = attempt(app, identifier, secret).outcome
    return outcome, hasher.computations - before


def test_a_wrong_sign_in_costs_one_argon2_whatever_the_state(hkpl: App) -> None:
    assert argon2_of(hkpl, "NOBODY42", "wrong") == (Outcome.INVALID, 1)
    assert argon2_of(hkpl, "HKPL0001", "wrong") == (Outcome.INVALID, 1)
    reset(hkpl, email="chan@example.org")
    reset(hkpl, email="chan@example.org")
    assert argon2_of(hkpl, "HKPL0001", "wrong") == (Outcome.INVALID, 1)
    register(hkpl, "hkpl", "HKPL0003", phone="9000 1111")  # at its default (a keyed digest)
    assert argon2_of(hkpl, "HKPL0003", "wrong") == (Outcome.INVALID, 1)


@pytest.fixture
def pooled(database_url: str, tmp_path: Path) -> Iterator[tuple[App, HashPool]]:
    """HKPL0001 at its default, with a hashing pool of one place."""
    app = make_app(deployment_env(database_url, tmp_path / "var"))
    pool = HashPool(workers=1, queue=0)
    app = with_ports(
        app, hasher=Argon2Hasher(keyring(app.settings), Argon2Parameters(1, 1024, 1), pool)
    )
    register(app, "hkpl", "HKPL0001", phone="9123 4567", email="chan@example.org")
    yield app, pool
    app.close()


@contextmanager
def held(pool: HashPool) -> Iterator[None]:
    """The pool's one place taken by other work."""
    release = threading.Event()
    holder = threading.Thread(target=pool.run, args=(release.wait,))
    holder.start()
    while pool.in_use < 1:
        release.wait(0.005)
    try:
        yield
    finally:
        release.set()
        holder.join()


def test_a_guess_judged_wrong_counts_even_when_the_pool_is_full(
    pooled: tuple[App, HashPool],
) -> None:
    app, pool = pooled
    # One made before temporaries were keyed digests: argon2, which a full pool refuses.
    legacy = app.ports.hasher.hash("Legacy#Temp42")
    with app.ports.uow() as uow:
        found = find_patron(uow, app.ports.profiles, "HKPL0001")
        assert found is not None
        patron = found.patron
        later = app.ports.clock.now() + timedelta(hours=1)
        uow.temporaries.add(patron.id, CredentialKind.PASSWORD, legacy, later)
        uow.commit()
    with held(pool):
        outcomes = [attempt(app, "HKPL0001", f"guess-{n}", Channel.APP).outcome for n in range(5)]
        assert outcomes == [Outcome.INVALID] * 5  # judged by the default's digest: counted
        assert attempt(app, "HKPL0001", "4567", Channel.APP).outcome is Outcome.BLOCKED
