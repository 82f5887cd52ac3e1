"""Quick answers (a 23 without PIN, a 99) leave the event loop when they grow slow: while
the loop waits for a slow store it answers nothing else, so they go to the thread pool
until they are quick again (`QuickLane`)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence

import pytest

from patronauth.bootstrap import App
from patronauth.sip2.messages import Message
from patronauth.sip2.server import QuickLane, Session
from tests.sip2.conftest import (
    PATRON,
    connect,
    on_the_event_loop,
    patron_status,
    request,
    running,
)

STATUS = request("99", {"status": "0", "max_print_width": "080", "protocol_version": "2.00"})


def test_the_lane_leaves_the_loop_above_its_limit_and_comes_back_under_half() -> None:
    lane = QuickLane(0.010, weight=0.5)
    assert lane.on_loop
    assert not lane.took(0.004)  # average 2 ms
    assert lane.on_loop
    assert lane.took(0.030)  # average 16 ms: over 10
    assert not lane.on_loop
    assert not lane.took(0.004)  # 10 ms: not yet under half of the limit
    assert not lane.on_loop
    assert not lane.took(0.004)  # 7 ms
    assert not lane.took(0.004)  # 5.5 ms
    assert lane.took(0.004)  # 4.75 ms: under 5
    assert lane.on_loop
    assert lane.average == pytest.approx(0.00475)


def test_slow_quick_answers_go_to_the_threads_and_come_back_when_quick(
    library: App, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="patronauth.sip2")
    slow = threading.Event()  # each 23 takes 0.6 s more: a slow store
    held = threading.Event()  # a 23 waits until released: a stalled one
    release = threading.Event()
    seen: list[tuple[str, bool, str]] = []
    with running(library, quick_seconds=0.05) as server:
        answer_each = server.answerer.answer_each

        def watched(asked: Sequence[tuple[Session, Message]]) -> list[Message | Exception | None]:
            for _, msg in asked:
                seen.append((msg.code, on_the_event_loop(), threading.current_thread().name))
                if msg.code == "23" and slow.is_set():
                    time.sleep(0.6)
                if msg.code == "23" and held.is_set():
                    assert release.wait(10)
            return answer_each(asked)

        server.answerer.answer_each = watched  # type: ignore[method-assign]
        with connect(server) as first, connect(server) as second:
            assert b"|BLY|" in first.ask(patron_status(pin=None))
            assert seen[-1][:2] == ("23", True)

            slow.set()
            assert b"|BLY|" in first.ask(patron_status(pin=None))  # waited for on the loop
            assert seen[-1][:2] == ("23", True)
            assert not server.quick_lane.on_loop
            assert b"|BLY|" in first.ask(patron_status(pin=None))
            code, on_loop, thread = seen[-1]
            assert (code, on_loop) == ("23", False)
            assert thread.startswith("sip2")
            slow.clear()

            # A 23 that does not come back holds up no other terminal now.
            held.set()
            asked = len(seen)
            first.send(patron_status(pin=None))
            deadline = time.monotonic() + 10
            while len(seen) == asked:  # until the server is waiting for it
                assert time.monotonic() < deadline
                time.sleep(0.01)
            assert seen[asked][:2] == ("23", False)
            began = time.monotonic()
            assert second.ask(STATUS).startswith(b"98")
            assert time.monotonic() - began < 5
            held.clear()
            release.set()
            assert f"|AA{PATRON}|".encode() in first.frame()

            # Quick again: back on the loop within a few dozen answers.
            for _ in range(40):
                assert b"|BLY|" in first.ask(patron_status(pin=None))
                if server.quick_lane.on_loop:
                    break
            assert server.quick_lane.on_loop
            assert b"|BLY|" in first.ask(patron_status(pin=None))
            assert seen[-1][:2] == ("23", True)
    messages = [r.getMessage() for r in caplog.records if r.name == "patronauth.sip2"]
    assert any(m.startswith("SIP2 quick answers slow") for m in messages)
    assert any(m.startswith("SIP2 quick answers back on the event loop") for m in messages)
