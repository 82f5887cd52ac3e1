"""A real SIP2 server on loopback over the test app (every database), and raw clients."""

from __future__ import annotations

import asyncio
import socket
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import event

from patronauth.bootstrap import App
from patronauth.domain.terminals import Encoding, TerminalOptions
from patronauth.services.catalogue import add_item
from patronauth.services.terminals import add_terminal
from patronauth.sip2.answers import Answers
from patronauth.sip2.messages import BLANK_DATE, Message, encode
from patronauth.sip2.server import ServerOptions, Sip2Server
from tests.support import STAFF, register

TERMINAL_PASSWORD = "kiosk-password-1"
PATRON = "HKPL0001"
PIN = "4567"  # HKPL's default PIN: the last four digits of the phone number (R4)
NAME = "陳大文 Chan Tai Man"
ITEMS = ("HB0001", "HB0002", "HB0003")


@contextmanager
def running(app: App, **options: object) -> Iterator[Sip2Server]:
    """The server in a thread with its own event loop, on an ephemeral loopback port."""
    loop = asyncio.new_event_loop()
    # The terminal account is read again at every request, as at most once a second
    # would make the tests of a disabled terminal wait.
    answers = Answers(app.ports, recheck_seconds=0.0)
    server = Sip2Server(answers, ServerOptions(**options))  # type: ignore[arg-type]
    started = threading.Event()

    def run() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(server.start("127.0.0.1", 0))
        started.set()
        loop.run_forever()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert started.wait(10)
    try:
        yield server
    finally:
        asyncio.run_coroutine_threadsafe(server.close(), loop).result(30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


def on_the_event_loop() -> bool:
    """Whether the caller runs on an event loop (the SIP2 server's), not in a thread."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


@contextmanager
def sqlite_write_locked(app: App) -> Iterator[list[str]]:
    """Another process holds the SQLite database's write lock for as long as the block
    runs; yields the first two words of every statement sent meanwhile (upper case)."""
    if app.engine.dialect.name != "sqlite":
        pytest.skip("SQLite's write lock")
    statements: list[str] = []

    def seen(_conn: Any, _cursor: Any, sql: str, *_: Any) -> None:
        statements.append(" ".join(sql.split()[:2]).upper())

    path = app.engine.url.database
    assert path is not None
    writer = sqlite3.connect(path, isolation_level=None, timeout=1)
    writer.execute("BEGIN IMMEDIATE")  # another process writing, for as long as it likes
    event.listen(app.engine, "before_cursor_execute", seen)
    try:
        yield statements
    finally:
        event.remove(app.engine, "before_cursor_execute", seen)
        writer.execute("ROLLBACK")
        writer.close()


def only_reads(statements: list[str]) -> bool:
    """No transaction begun (nor a deferred one) and nothing written."""
    return not [s for s in statements if s.startswith("BEGIN")] and not [
        s for s in statements if s.split()[0] in {"INSERT", "UPDATE", "DELETE"}
    ]


@pytest.fixture
def library(app: App) -> App:
    """HKPL with one patron (PIN 4567), three items and three terminals."""
    register(app, "hkpl", PATRON, name=NAME, phone="9123 4567", email="chan@example.org")
    for barcode in ITEMS:
        add_item(app.ports, "hkpl", barcode=barcode, title=f"Book {barcode}", staff=STAFF)
    for login, options in (
        ("kiosk1", TerminalOptions()),
        ("kiosk850", TerminalOptions(encoding=Encoding.CP850, crlf=True)),
        ("kiosk-strict", TerminalOptions(wrong_pin_as_unknown=True)),
    ):
        add_terminal(
            app.ports,
            login=login,
            institution="hkpl",
            password=TERMINAL_PASSWORD,
            location="Central Library 2/F",
            options=options,
            staff=STAFF,
        )
    return app


@pytest.fixture
def server(library: App) -> Iterator[Sip2Server]:
    with running(library, idle_seconds=30.0) as s:
        yield s


@dataclass
class Raw:
    """A raw-socket terminal: sends bytes, reads frames up to CR (and a following LF)."""

    sock: socket.socket
    buffer: bytes = b""

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def frame(self) -> bytes:
        """The next reply frame, terminator included ("" when the server closed)."""
        while b"\r" not in self.buffer:
            chunk = self.sock.recv(65536)
            if not chunk:
                rest, self.buffer = self.buffer, b""
                return rest
            self.buffer += chunk
        end = self.buffer.index(b"\r") + 1
        if self.buffer[end : end + 1] == b"\n":
            end += 1
        frame, self.buffer = self.buffer[:end], self.buffer[end:]
        return frame

    def ask(self, data: bytes) -> bytes:
        self.send(data)
        return self.frame()

    def closed(self) -> bool:
        """Whether the server closed the connection (EOF or reset) without more data."""
        try:
            return self.sock.recv(1) == b""
        except ConnectionResetError:
            return True


def login_frame(login: str = "kiosk1", password: str = TERMINAL_PASSWORD, seq: str = "0") -> bytes:
    msg = Message(
        "93",
        {"uid_algorithm": "0", "pwd_algorithm": "0"},
        (("CN", login), ("CO", password), ("CP", "Central")),
    )
    return encode(msg, sequence=seq)


def request(
    code: str,
    fixed: dict[str, str],
    *fields: tuple[str, str],
    encoding: str = "utf-8",
    seq: str | None = "1",
) -> bytes:
    return encode(Message(code, fixed, fields), sequence=seq, encoding=encoding)


def patron_status(
    identifier: str = PATRON, pin: str | None = PIN, language: str = "001", encoding: str = "utf-8"
) -> bytes:
    fields = [("AO", "hkpl"), ("AA", identifier), ("AC", "")]
    if pin is not None:
        fields.append(("AD", pin))
    return request("23", {"language": language, "date": BLANK_DATE}, *fields, encoding=encoding)


@contextmanager
def connect(server: Sip2Server, *, login: str | None = "kiosk1") -> Iterator[Raw]:
    # The terminal login hashes its password: on a busy machine that can take seconds.
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=30)
    raw = Raw(sock)
    try:
        if login is not None:
            assert raw.ask(login_frame(login)).startswith(b"941")
        yield raw
    finally:
        sock.close()
