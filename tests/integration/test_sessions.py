"""S5 and S7 in the use cases: sessions, their scope, timeouts and sign-out."""

from __future__ import annotations

from dataclasses import replace

import pytest

from patronauth.bootstrap import App
from patronauth.domain.credentials import Channel, CredentialKind, CredentialState
from patronauth.domain.errors import Refused
from patronauth.domain.sessions import Scope, Session, SessionChannel
from patronauth.services.account import account
from patronauth.services.credentials import (
    Changed,
    ChangeRequest,
    change_secret,
    reset_credential,
)
from patronauth.services.sessions import (
    close_session,
    current_session,
    open_session,
    token_hash,
)
from patronauth.services.staff import bar, replace_card
from tests.support import DatabaseGone, attempt, clock_of, register


@pytest.fixture
def hkpl(app: App) -> App:
    register(app, "hkpl", "HKPL0001", name="Chan Tai Man", phone="9123 4567")
    return app


def sign_in(app: App, secret: str, channel: Channel = Channel.WEB) -> str:
    result = attempt(app, "HKPL0001", secret, channel)
    assert result.signed_in
    return open_session(app.ports, result, SessionChannel(channel.value), source="t").token


def change(
    app: App,
    session: Session,
    kind: CredentialKind,
    current: str,
    new: str,
    channel: Channel,
    *,
    rotate: bool = False,
) -> Changed:
    """A signed-in patron's change, as the web pages (`rotate`) and the app make it."""
    request = ChangeRequest(None, current, new, new, channel, kind, source="t")
    return change_secret(app.ports, request, session=session, rotate=rotate)


def refusal(app: App, token: str | None) -> str:
    with pytest.raises(Refused) as refused:
        current_session(app.ports, token)
    return refused.value.code


def test_a_default_sign_in_opens_only_the_change_step(hkpl: App) -> None:
    token = sign_in(hkpl, "4567")
    session = current_session(hkpl.ports, token)
    assert session.scope is Scope.CHANGE
    assert session.change_kind is CredentialKind.PASSWORD
    with pytest.raises(Refused) as refused:
        change(hkpl, session, CredentialKind.PIN, "4567", "2046", Channel.WEB, rotate=True)
    assert refused.value.code == "session.must_change"
    opened = change(
        hkpl, session, CredentialKind.PASSWORD, "4567", "Lib#Reader2026", Channel.WEB, rotate=True
    ).opened
    assert opened is not None
    assert opened.session.scope is Scope.FULL
    assert refusal(hkpl, token) == "session.invalid"  # the old id is gone
    mine = account(hkpl.ports, current_session(hkpl.ports, opened.token))
    assert mine.defaults_in_use == [CredentialKind.PIN]  # R4: the PIN is still the default
    states = {c.kind: c.state for c in mine.credentials}
    assert states == {
        CredentialKind.PASSWORD: CredentialState.CHOSEN,
        CredentialKind.PIN: CredentialState.DEFAULT,
    }
    assert [e.outcome for e in mine.recent_sign_ins] == ["ok must-change"]


def test_the_app_keeps_its_token_after_a_change_and_other_sessions_end(hkpl: App) -> None:
    other = sign_in(hkpl, "4567")
    token = sign_in(hkpl, "4567", Channel.APP)
    session = current_session(hkpl.ports, token)
    changed = change(hkpl, session, CredentialKind.PASSWORD, "4567", "Lib#Reader2026", Channel.APP)
    assert changed.opened is None
    assert current_session(hkpl.ports, token).scope is Scope.FULL
    assert refusal(hkpl, other) == "session.invalid"


@pytest.mark.parametrize("channel", [Channel.APP, Channel.WEB])
def test_a_change_stands_when_the_database_fails_right_after_its_commit(
    hkpl: App, channel: Channel
) -> None:
    """The other sessions end in the change's own transaction, and the rotated web
    session opens in it: a database failing after the commit does not turn an
    acknowledged change into an error (nor a committed change into "not changed")."""
    other = sign_in(hkpl, "4567")
    token = sign_in(hkpl, "4567", channel)
    session = current_session(hkpl.ports, token)
    gone = replace(hkpl, ports=replace(hkpl.ports, sessions=DatabaseGone(hkpl.ports.sessions)))
    rotate = channel is Channel.WEB
    changed = change(
        gone, session, CredentialKind.PASSWORD, "4567", "Lib#Reader2026", channel, rotate=rotate
    )
    assert refusal(hkpl, other) == "session.invalid"
    if rotate:
        assert changed.opened is not None
        assert refusal(hkpl, token) == "session.invalid"
        token = changed.opened.token
    assert current_session(hkpl.ports, token).scope is Scope.FULL
    assert attempt(hkpl, "HKPL0001", "Lib#Reader2026").signed_in


@pytest.mark.parametrize("action", ["reset", "replace card", "bar"])
def test_staff_actions_end_the_sessions_in_their_own_transaction(hkpl: App, action: str) -> None:
    token = sign_in(hkpl, "4567", Channel.APP)
    gone = replace(hkpl, ports=replace(hkpl.ports, sessions=DatabaseGone(hkpl.ports.sessions)))
    if action == "reset":
        reset_credential(gone.ports, "HKPL0001", CredentialKind.PASSWORD, staff="t", reason="r")
    elif action == "replace card":
        replace_card(gone.ports, "HKPL0001", "HKPL0002", staff="t", reason="lost")
    else:
        bar(gone.ports, "HKPL0001", barred=True, staff="t", reason="r")
    assert refusal(hkpl, token) == "session.invalid"


def test_sessions_end_at_sign_out_and_after_the_idle_and_absolute_timeouts(hkpl: App) -> None:
    token = sign_in(hkpl, "4567")
    close_session(hkpl.ports, token)
    assert refusal(hkpl, token) == "session.invalid"

    clock = clock_of(hkpl)
    token = sign_in(hkpl, "4567")
    clock.advance(14 * 60)
    current_session(hkpl.ports, token)  # used: the idle timer restarts
    clock.advance(14 * 60)
    current_session(hkpl.ports, token)
    clock.advance(15 * 60)
    assert refusal(hkpl, token) == "session.expired"

    token = sign_in(hkpl, "4567")
    for _ in range(39):  # busy all day: 7 h 48 min
        clock.advance(12 * 60)
        current_session(hkpl.ports, token)
    clock.advance(12 * 60)  # 8 hours is the most a session lasts
    assert refusal(hkpl, token) == "session.expired"


def test_missing_and_forged_tokens_are_refused(hkpl: App) -> None:
    assert refusal(hkpl, None) == "session.missing"
    assert refusal(hkpl, "") == "session.missing"
    assert refusal(hkpl, "forged-token") == "session.not_issued"


def test_a_token_never_issued_is_told_from_one_signed_out_or_purged(hkpl: App) -> None:
    """The store cannot tell them apart; the token's MAC can."""
    from sqlalchemy import delete

    from patronauth.adapters.storage.tables import sessions

    token = sign_in(hkpl, "4567")
    value, key_id, mac = token.split(".")
    other_mac = hkpl.ports.hasher.keyed(value + "x", salt="session-token").rsplit(":", 1)[1]
    for forged in (
        f"{value}.{key_id}.{other_mac}",  # another value's MAC
        f"{value[::-1]}.{key_id}.{mac}",  # another value under this MAC
        f"{value}.{key_id}",
        f"{value}.{key_id}.{mac}.{mac}",
        f"{value}.{key_id}.{mac}=",
        f"{value}.Omsp.{mac}",  # no such key
        "x" * 5000,
    ):
        assert refusal(hkpl, forged) == "session.not_issued", forged
    assert current_session(hkpl.ports, token).patron_id
    close_session(hkpl.ports, token)
    assert refusal(hkpl, token) == "session.invalid"  # signed out
    with hkpl.engine.begin() as conn:
        conn.execute(delete(sessions))  # forgotten
    assert refusal(hkpl, token) == "session.invalid"
    assert refusal(hkpl, f"{value}.{key_id}.{other_mac}") == "session.not_issued"


def test_a_token_issued_before_the_mac_keeps_working_until_it_ends(hkpl: App) -> None:
    """Stored hashed, an old token keeps its session after the upgrade; an unknown one of
    that form is answered as before (signed out)."""
    from patronauth.domain.sessions import Scope as Reach

    legacy = "AbCdEfGhIjKlMnOpQrStUv"  # the form of `secrets.token_urlsafe(16)`
    hkpl.ports.sessions.create(
        token_hash(legacy), 1, SessionChannel.WEB, Reach.FULL, None,
        source="t", now=hkpl.ports.clock.now(),
    )  # fmt: skip
    assert current_session(hkpl.ports, legacy).scope is Reach.FULL
    assert refusal(hkpl, "ZyXwVuTsRqPoNmLkJiHgFe") == "session.invalid"
    close_session(hkpl.ports, legacy)
    assert refusal(hkpl, legacy) == "session.invalid"


def test_only_the_hash_of_a_token_is_stored(hkpl: App) -> None:
    from sqlalchemy import select

    from patronauth.adapters.storage.tables import sessions

    token = sign_in(hkpl, "4567")
    with hkpl.engine.connect() as conn:
        stored = conn.execute(select(sessions.c.token_hash)).scalars().all()
    assert stored == [token_hash(token)]
    assert token not in stored
