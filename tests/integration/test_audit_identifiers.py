"""S8, S9: the audit trail keeps the card field's text only when it identifies a
patron; anything else typed there (a password in the wrong box) is kept as a keyed
digest, which staff still find by typing the same text."""

from __future__ import annotations

from sqlalchemy import select

from patronauth.adapters.storage import tables
from patronauth.bootstrap import App
from patronauth.domain.credentials import Channel, Outcome
from patronauth.domain.sessions import SessionChannel
from patronauth.services.account import account
from patronauth.services.resets import ResetRequest, request_reset
from patronauth.services.sessions import open_session
from patronauth.services.staff import audit_trail
from tests.support import attempt, clock_of, register

TYPED_IN_THE_CARD_FIELD = "Hunter2Secret"  # a password typed in the wrong box


def stored_identifiers(app: App) -> list[str | None]:
    with app.engine.connect() as conn:
        rows = conn.execute(select(tables.audit_events.c.identifier)).scalars()
        return list(rows)


def dumped(app: App) -> str:
    with app.engine.connect() as conn:
        return repr(conn.execute(select(tables.audit_events)).all())


def test_text_that_identifies_no_patron_is_kept_as_a_keyed_digest(app: App) -> None:
    register(app, "hkpl", "HKPL0001", phone="9123 4567", email="chan@example.org")
    assert attempt(app, TYPED_IN_THE_CARD_FIELD, "x", Channel.WEB).outcome is Outcome.INVALID
    assert attempt(app, "HKPL0001", "wrong", Channel.WEB).outcome is Outcome.INVALID
    request_reset(
        app.ports,
        ResetRequest(TYPED_IN_THE_CARD_FIELD, "chan@example.org", "t", institution="hkpl"),
    )
    kept = stored_identifiers(app)
    assert "hkpl0001" in kept or "HKPL0001" in kept  # a card: kept as its key
    assert TYPED_IN_THE_CARD_FIELD.lower() not in dumped(app).lower()
    digest = app.ports.hasher.keyed(TYPED_IN_THE_CARD_FIELD.upper(), salt="audit")
    assert kept.count(digest) == 2  # the sign-in and the reset request
    # Staff find the records by typing what was typed.
    found = audit_trail(app.ports, TYPED_IN_THE_CARD_FIELD)
    assert {(e.event.action, e.event.outcome) for e in found} >= {
        ("sign_in", "invalid"),
        ("reset.request", "no_match"),
    }


def test_refusals_of_a_blocked_card_are_digested_and_still_listed_in_my_account(
    app: App,
) -> None:
    register(app, "hkpl", "HKPL0001", phone="9123 4567")
    for _ in range(5):
        attempt(app, "HKPL0001", "wrong", Channel.WEB)
    assert attempt(app, "HKPL0001", "4567", Channel.WEB).outcome is Outcome.BLOCKED
    assert app.ports.hasher.keyed("HKPL0001", salt="audit") in stored_identifiers(app)
    result = attempt(app, "HKPL0001", "4567", Channel.APP, institution="hkpl")
    assert result.outcome is Outcome.BLOCKED
    found = audit_trail(app.ports, "HKPL0001")
    assert [e.event.outcome for e in found].count("blocked") == 2


def test_my_account_lists_blocked_refusals_found_under_the_digest(app: App) -> None:
    register(app, "hkpl", "HKPL0001", phone="9123 4567")
    for _ in range(5):
        attempt(app, "HKPL0001", "wrong", Channel.WEB)
    assert attempt(app, "HKPL0001", "4567", Channel.WEB).outcome is Outcome.BLOCKED
    clock_of(app).advance(61)
    result = attempt(app, "HKPL0001", "4567", Channel.WEB)
    assert result.signed_in
    opened = open_session(app.ports, result, SessionChannel.WEB, source="t")
    mine = account(app.ports, opened.session)
    assert [e.outcome for e in mine.recent_sign_ins][:2] == ["ok must-change", "blocked"]
