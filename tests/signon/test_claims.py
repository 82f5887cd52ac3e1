"""The `library` claims of an ID token and of CAS attributes: what they read."""

from __future__ import annotations

from sqlalchemy import event

from patronauth.bootstrap import App
from patronauth.domain.credentials import Channel, Outcome
from patronauth.services.lookup import find_patron
from patronauth.services.signon import library_claims
from tests.support import attempt, register


def test_the_library_claims_are_read_in_one_transaction(app: App) -> None:
    """The patron's credentials, cards and lending standing: one read of the database
    (was two), then the attempt counter for the cards' blocks."""
    register(app, "hkpl", "HKPL0001", phone="9123 4567")
    for _ in range(5):
        assert attempt(app, "HKPL0001", "Wrong#1", Channel.WEB).outcome is Outcome.INVALID
    with app.ports.read() as uow:
        found = find_patron(uow, app.ports.profiles, "HKPL0001")
    assert found is not None
    transactions: list[list[str]] = []

    def began(conn: object) -> None:
        transactions.append([])

    def statement(*args: object) -> None:
        transactions[-1].append(str(args[2]))

    event.listen(app.engine, "begin", began)
    event.listen(app.engine, "before_cursor_execute", statement)
    try:
        claims = library_claims(app.ports, found.patron)
    finally:
        event.remove(app.engine, "begin", began)
        event.remove(app.engine, "before_cursor_execute", statement)
    # Besides the attempt counter's own read (a row of the database here, SQL counter):
    reads = [t for t in transactions if not any("attempt_counters" in s for s in t)]
    assert len(reads) == 1
    assert any("FROM credentials" in s for s in reads[0])
    assert any("FROM identifiers" in s for s in reads[0])
    assert any("FROM loans" in s for s in reads[0])  # the lending standing
    assert claims.as_claims() == {
        "institution": "hkpl",
        "category": found.patron.category,
        "status": "blocked",  # the card's block, read from the attempt counter
        "fines_over_threshold": False,
    }
