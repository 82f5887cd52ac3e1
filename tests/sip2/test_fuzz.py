"""Arbitrary bytes never break the server: a connection answers 96 (or a real reply to
what happened to be a request) or is closed, and other connections keep working."""

from __future__ import annotations

import socket
import struct

import pysip2
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from patronauth.sip2.server import Sip2Server
from tests.sip2.conftest import Raw, connect, login_frame, request

RESEND = b"96AZFEF6\r"
LINGER_ZERO = struct.pack("ii", 1, 0)
STATUS = request("99", {"status": "0", "max_print_width": "040", "protocol_version": "2.00"})

fuzz = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
garbage = st.one_of(
    st.binary(max_size=600),
    # Frames that look like requests: a known code, then anything.
    st.builds(
        lambda code, rest: code + rest,
        st.sampled_from(
            [b"93", b"99", b"23", b"63", b"11", b"09", b"29", b"65", b"35", b"17", b"97", b"37"]
        ),
        st.binary(max_size=300),
    ),
)


def replies_until(terminal: Raw, codes: tuple[bytes, ...]) -> tuple[list[bytes], bool]:
    """The frames read up to one starting with `codes` (the probe's reply: when it comes,
    the connection survived), and whether the server closed the connection instead."""
    frames = []
    while True:
        try:
            frame = terminal.frame()
        except ConnectionResetError:
            return frames, True
        if not frame:
            return frames, True
        if frame.startswith(codes):
            return frames, False
        frames.append(frame)


def assert_only_resends_or_replies(frames: list[bytes]) -> None:
    for frame in frames:
        if frame != RESEND:
            pysip2.decode_message(frame.rstrip(b"\n"), encoding="utf-8")


@fuzz
@given(data=garbage)
def test_garbage_after_login(server: Sip2Server, data: bytes) -> None:
    with connect(server) as bystander, connect(server) as terminal:
        try:
            terminal.send(data + b"\r" + STATUS)
        except (BrokenPipeError, ConnectionResetError):
            frames = []
        else:
            frames, _ = replies_until(terminal, (b"98",))
        assert_only_resends_or_replies(frames)
        assert bystander.ask(STATUS).startswith(b"98")


@fuzz
@given(data=garbage)
def test_garbage_before_login(server: Sip2Server, data: bytes) -> None:
    with connect(server) as bystander, connect(server, login=None) as terminal:
        try:
            terminal.send(data + b"\r" + login_frame())
        except (BrokenPipeError, ConnectionResetError):
            frames = []
        else:
            frames, _ = replies_until(terminal, (b"941",))
        assert_only_resends_or_replies(frames)
        assert bystander.ask(STATUS).startswith(b"98")


def test_a_connection_killed_with_a_reset_leaves_the_server_serving(server: Sip2Server) -> None:
    with connect(server) as bystander:
        for _ in range(5):
            with connect(server) as victim:
                victim.send(b"2300120260101    120000AAHKPL00")
                victim.sock.setsockopt(
                    socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00"
                )
        assert bystander.ask(STATUS).startswith(b"98")
