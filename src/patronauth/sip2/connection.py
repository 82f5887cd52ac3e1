"""One SIP2 connection as a state machine: bytes in, events out; replies in, bytes out.

No sockets here (the h11 model). The server feeds `receive` with whatever a read
returned and acts on the events; it hands each answer to `reply`, which gives the
bytes to write.

States (the table `_ALLOWED` below):

    LOGIN     only 93 is read; a 940 reply stays here, a 941 moves on; anything
              else (97 too: there is nothing a stranger may have repeated) closes
              the connection
    READY     every request of `messages.REQUESTS`; a 940 reply to a new 93 goes back
              to LOGIN
    CLOSED    nothing more is read

Frames end with CR or CRLF (a lone LF is accepted too); partial frames are buffered
and several frames in one read are split. A frame longer than `max_frame` bytes closes
the connection. A bad checksum or an unreadable message is answered with 96; 97 repeats
the last reply.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from patronauth.sip2.messages import (
    REQUESTS,
    Message,
    ParseError,
    Trailer,
    check_frame,
    encode,
    parse,
)

MAX_FRAME = 4096

_SPLIT = re.compile(rb"[\r\n]")


class State(StrEnum):
    LOGIN = "login"
    READY = "ready"
    CLOSED = "closed"


_ALLOWED: dict[State, frozenset[str]] = {
    State.LOGIN: frozenset({"93"}),
    State.READY: REQUESTS,
    State.CLOSED: frozenset(),
}


class FrameTooLong(Exception):
    pass


class FrameBuffer:
    """Splits a byte stream into frames (terminators removed, empty frames dropped)."""

    def __init__(self, max_frame: int = MAX_FRAME) -> None:
        self.max_frame = max_frame
        self._pending = b""

    @property
    def pending(self) -> int:
        """How many bytes of an unfinished frame are buffered."""
        return len(self._pending)

    def feed(self, data: bytes) -> list[bytes]:
        """The complete frames `data` finishes; raises FrameTooLong past the bound."""
        pieces = _SPLIT.split(self._pending + data)
        self._pending = pieces.pop()
        frames = [piece for piece in pieces if piece]
        if len(self._pending) > self.max_frame or any(len(f) > self.max_frame for f in frames):
            self._pending = b""
            raise FrameTooLong
        return frames


# -- events ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Request:
    """A request the application must answer (call `Connection.reply` with the answer)."""

    message: Message
    trailer: Trailer


@dataclass(frozen=True)
class Send:
    """Bytes the connection answers by itself (96, or the repeat asked for by 97)."""

    data: bytes
    reason: str


@dataclass(frozen=True)
class Close:
    """The connection must be closed; nothing more will be read."""

    reason: str


Event = Request | Send | Close

RESEND_REQUEST = Message("96")


class Connection:
    """The protocol state of one terminal's connection."""

    def __init__(self, *, max_frame: int = MAX_FRAME) -> None:
        self.state = State.LOGIN
        self.encoding = "utf-8"
        self.terminator = b"\r"
        self._frames = FrameBuffer(max_frame)
        self._last_reply: bytes | None = None
        self._sequence: str | None = None

    def configure(self, *, encoding: str, crlf: bool) -> None:
        """Use a terminal's own encoding and line ending (after its login)."""
        self.encoding = encoding
        self.terminator = b"\r\n" if crlf else b"\r"

    @property
    def pending(self) -> int:
        return self._frames.pending

    def receive(self, data: bytes) -> list[Event]:
        """The events for `data`. After a Close event, no further event is produced."""
        if self.state is State.CLOSED:
            return []
        try:
            frames = self._frames.feed(data)
        except FrameTooLong:
            return [self._close("frame too long")]
        events: list[Event] = []
        for frame in frames:
            event = self._event(frame)
            events.append(event)
            if isinstance(event, Close):
                break
        return events

    def _event(self, frame: bytes) -> Event:
        if self.state is State.CLOSED:
            return Close("closed")
        trailer = check_frame(frame, self.encoding)
        if not trailer.valid:
            return self._resend_request("bad checksum")
        text = self._decode(frame)
        if text is None:
            return self._resend_request("undecodable bytes")
        code = text[:2]
        if code not in _ALLOWED[self.state]:
            if self.state is State.LOGIN:
                return self._close(f"message {code!r} before login")
            return self._resend_request(f"unsupported message {code!r}")
        if code == "97":
            # Only read after a successful login, whose 94 is always a reply to repeat.
            assert self._last_reply is not None
            return Send(self._last_reply, "repeat of the last reply")
        try:
            msg = parse(text)
        except ParseError as error:
            return self._resend_request(str(error))
        self._sequence = trailer.sequence
        return Request(msg, trailer)

    def _decode(self, frame: bytes) -> str | None:
        try:
            return frame.decode(self.encoding)
        except UnicodeDecodeError:
            if self.state is State.LOGIN:
                # The terminal's encoding is known only after its login: a cp850 kiosk
                # may send its 93 with non-UTF-8 bytes.
                return frame.decode("cp850")
            return None

    def _resend_request(self, reason: str) -> Send:
        return Send(encode(RESEND_REQUEST, terminator=self.terminator), reason)

    def _close(self, reason: str) -> Close:
        self.state = State.CLOSED
        return Close(reason)

    def reply(self, answer: Message) -> bytes:
        """The bytes of the answer to the last Request; a 94 moves the state on."""
        if answer.code == "94":
            self.state = State.READY if answer.fixed.get("ok") == "1" else State.LOGIN
        data = encode(
            answer, sequence=self._sequence, encoding=self.encoding, terminator=self.terminator
        )
        self._last_reply = data
        return data

    def close(self) -> None:
        self.state = State.CLOSED
