"""P4: patron status requests without PIN that arrive together are answered together.
Their reads are made once for all of them (`selfservice.read_statuses`: one statement
for the cards with their standing, one read of the attempt counter), and each answer
is the one the request would get alone."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from contextlib import ExitStack
from typing import Any

import pytest
from sqlalchemy import event

from patronauth.bootstrap import App
from patronauth.domain.credentials import Channel
from patronauth.domain.terminals import Terminal
from patronauth.services import selfservice
from patronauth.services.terminals import terminal_login
from patronauth.sip2.messages import Message
from patronauth.sip2.server import Session, Sip2Server
from tests.sip2.conftest import (
    PATRON,
    TERMINAL_PASSWORD,
    connect,
    on_the_event_loop,
    only_reads,
    patron_status,
    request,
    running,
    sqlite_write_locked,
)
from tests.support import attempt, register

BLOCKED = "HKPL0002"
STATUS = request("99", {"status": "0", "max_print_width": "080", "protocol_version": "2.00"})
CARDS = (
    PATRON,
    f" {PATRON.lower()} ",  # the same card as a person types it
    BLOCKED,
    "HKPL9999",  # no such card
    "",
    "<script>x</script>",
    "9" * 300,
)


@pytest.fixture
def terminal(library: App) -> Terminal:
    register(library, "hkpl", BLOCKED, name="Wong Siu Ming", phone="9876 5432")
    for _ in range(5):
        attempt(library, BLOCKED, "0000", Channel.SIP2)  # five wrong PINs: a block
    found = terminal_login(library.ports, "kiosk1", TERMINAL_PASSWORD, source="127.0.0.1")
    assert found is not None
    return found


def test_statuses_read_together_answer_as_each_would_alone(
    library: App, terminal: Terminal, monkeypatch: pytest.MonkeyPatch
) -> None:
    ports = library.ports
    alone = [
        selfservice.patron_status(ports, terminal, card, None, source="127.0.0.1") for card in CARDS
    ]
    statements: list[str] = []

    def seen(_conn: Any, _cursor: Any, sql: str, *_: Any) -> None:
        statements.append(sql)

    event.listen(library.engine, "before_cursor_execute", seen)
    try:
        reads = selfservice.read_statuses(ports, [(terminal, card) for card in CARDS])
        read = list(statements)
        statements.clear()

        def not_again(*_: object) -> int:
            raise AssertionError("the counter was read again")

        monkeypatch.setattr(ports.counter, "blocked_for", not_again)
        together = [
            selfservice.patron_status(ports, terminal, card, None, source="127.0.0.1", reads=reads)
            for card in CARDS
        ]
    finally:
        event.remove(library.engine, "before_cursor_execute", seen)
    assert together == alone
    assert [a.valid_patron for a in together] == [True, True, True, False, False, False, False]
    assert together[2].screen[0].code == "sip2.blocked"
    assert len([s for s in read if "lookup_key" in s]) == 1  # one statement for all
    assert not [s for s in statements if "lookup_key" in s]  # and none again


def test_reads_that_failed_are_made_by_each_request(library: App, terminal: Terminal) -> None:
    """A request whose reads are not among those made together (another institution's
    date, or none made) reads them itself: the answer does not change."""
    reads = selfservice.read_statuses(library.ports, [(terminal, "HKPL9999")])
    answer = selfservice.patron_status(
        library.ports, terminal, PATRON, None, source="127.0.0.1", reads=reads
    )
    assert answer == selfservice.patron_status(
        library.ports, terminal, PATRON, None, source="127.0.0.1"
    )
    assert answer.valid_patron


def _held_first_batch(
    server: Sip2Server,
) -> tuple[list[list[str]], threading.Event, threading.Event]:
    """The server's batches of quick requests, recorded as the codes and cards asked
    and where they were answered (`loop` or `pool`, last); the first batch holds its
    thread until `release` is set (`holding` says when)."""
    batches: list[list[str]] = []
    holding, release = threading.Event(), threading.Event()
    answer_each = server.answerer.answer_each

    def watched(asked: Sequence[tuple[Session, Message]]) -> list[Message | Exception | None]:
        where = "loop" if on_the_event_loop() else "pool"
        batches.append([*(f"{msg.code}:{msg.text('AA')}" for _, msg in asked), where])
        if len(batches) == 1:
            holding.set()
            assert release.wait(10)
        return answer_each(asked)

    server.answerer.answer_each = watched  # type: ignore[method-assign]
    return batches, holding, release


@pytest.mark.parametrize(
    ("quick_seconds", "lane"),
    [(60.0, "loop"), (0.000_001, "pool")],
    ids=["on-the-loop", "in-the-pool"],
)
def test_requests_that_arrive_while_the_server_is_busy_are_answered_together(
    library: App, quick_seconds: float, lane: str
) -> None:
    """On the event loop a batch holds the loop, and the loop reads the requests sent
    meanwhile together once it is free: one batch. In the thread pool (slow reads) the
    loop is free, and reads them as they come: batches of one or more, in the pool.
    Either way each terminal gets its own answer."""
    with ExitStack() as stack:
        server = stack.enter_context(running(library, quick_seconds=quick_seconds))
        server.quick_lane.on_loop = lane == "loop"  # and there it stays
        first = stack.enter_context(connect(server))
        others = [stack.enter_context(connect(server)) for _ in range(5)]
        batches, holding, release = _held_first_batch(server)
        first.send(STATUS)
        assert holding.wait(10)
        cards = [PATRON, "HKPL9991", "HKPL9992", "HKPL9993", f" {PATRON.lower()} "]
        for terminal, card in zip(others, cards, strict=True):
            terminal.send(patron_status(card, pin=None))
        time.sleep(0.3)  # every request is in the server's socket buffers
        release.set()
        assert first.frame().startswith(b"98")
        answers = [terminal.frame() for terminal in others]
    assert batches[0] == ["99:", lane]
    if lane == "loop":
        assert len(batches) == 2
    assert {batch[-1] for batch in batches[1:]} == {lane}
    asked = [request for batch in batches[1:] for request in batch[:-1]]
    assert sorted(asked) == sorted(f"23:{card}" for card in cards)
    for card, answer in zip(cards, answers, strict=True):
        assert answer.startswith(b"24")
        assert f"|AA{card}|".encode() in answer
    assert [b"|BLY|" in a for a in answers] == [True, False, False, False, True]


def test_a_request_that_fails_in_a_batch_closes_only_its_own_connection(
    library: App, server: Sip2Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    answers: Any = server.answerer
    patron_status_of = answers._patron_status

    def failing(session: Session, terminal: Terminal, msg: Message, reads: Any = None) -> Message:
        if msg.text("AA") == "HKPL9991":
            raise RuntimeError("a fault in one answer")
        return patron_status_of(session, terminal, msg, reads)  # type: ignore[no-any-return]

    monkeypatch.setattr(answers, "_patron_status", failing)
    with ExitStack() as stack:
        first = stack.enter_context(connect(server))
        failed, answered = (stack.enter_context(connect(server)) for _ in range(2))
        batches, holding, release = _held_first_batch(server)
        first.send(STATUS)
        assert holding.wait(10)
        failed.send(patron_status("HKPL9991", pin=None))
        answered.send(patron_status(PATRON, pin=None))
        time.sleep(0.3)
        release.set()
        assert first.frame().startswith(b"98")
        assert b"|BLY|" in answered.frame()
        assert failed.frame() == b""  # closed without an answer
        assert answered.ask(STATUS).startswith(b"98")
    assert sorted(batches[1][:-1]) == [f"23:{PATRON}", "23:HKPL9991"]


def test_statuses_read_together_take_no_write_lock(library: App, terminal: Terminal) -> None:
    """As a 23 read alone (`test_status_reads`): on SQLite, answered while another
    process holds the write lock, with no transaction begun."""
    with sqlite_write_locked(library) as statements:
        reads = selfservice.read_statuses(library.ports, [(terminal, c) for c in CARDS])
    assert reads.found
    assert statements
    assert only_reads(statements)


def test_a_batch_that_fails_as_a_whole_closes_its_connections_at_once(
    library: App, server: Sip2Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A fault outside any one request's answer fails each of them (its connection
    closed, as for any failed request) rather than leaving them waiting."""

    def broken(asked: Sequence[tuple[Session, Message]]) -> list[Message | Exception | None]:
        raise RuntimeError("a fault in the batch")

    with connect(server) as terminal, connect(server) as other:
        monkeypatch.setattr(server.answerer, "answer_each", broken)
        terminal.sock.settimeout(5)
        terminal.send(patron_status(pin=None))
        assert terminal.frame() == b""
        assert other.ask(patron_status(pin="4567")).startswith(b"24")  # not a quick one
