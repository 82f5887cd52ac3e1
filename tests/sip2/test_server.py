"""The server around the protocol: masked logs, TLS, the idle timeout, shutdown, and
`patronauth serve` running SIP2 beside the web server."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

import httpx
import pytest

from patronauth.adapters.hash_pool import HashPool
from patronauth.adapters.hashing import Argon2Hasher, Argon2Parameters
from patronauth.bootstrap import App, keyring, with_ports
from patronauth.domain.credentials import Channel, CredentialKind
from patronauth.services.credentials import ChangeRequest, change_secret
from patronauth.services.terminals import add_terminal
from patronauth.sip2.messages import Message
from patronauth.sip2.server import Session, Sip2Server
from tests.servers import free_port
from tests.sip2.conftest import (
    PATRON,
    PIN,
    TERMINAL_PASSWORD,
    Raw,
    connect,
    login_frame,
    on_the_event_loop,
    patron_status,
    request,
    running,
)
from tests.support import STAFF, make_app
from tests.support import test_env as deployment_env

T = TypeVar("T")


def test_exchanges_are_logged_without_pins_passwords_or_names(
    server: Sip2Server, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="patronauth.sip2")
    with connect(server) as t:
        t.ask(patron_status())
        t.ask(patron_status(pin="9999"))
        t.ask(b"23001" + b" " * 18 + b"AA" + PATRON.encode() + b"|AD" + PIN.encode() + b"|AZ0000\r")
    text = "\n".join(
        f"{r.getMessage()} {getattr(r, 'source', '')} {getattr(r, 'terminal', '')}"
        for r in caplog.records
    )
    assert "SIP2 request 93 uid_algorithm=0 pwd_algorithm=0 CN=kiosk1 CO=*** CP=Central" in text
    assert f"SIP2 request 23 language=001 AO=hkpl AA={PATRON} AC=*** AD=***" in text
    assert f"SIP2 request 23 language=001 AO=hkpl AA={PATRON} AC=*** AD=***; reply 24" in text
    assert "SIP2 sent 96: bad checksum" in text
    for secret in (TERMINAL_PASSWORD, PIN, "9999", "Chan Tai Man"):
        assert secret not in text


def test_a_status_without_pin_is_answered_on_the_event_loop(library: App) -> None:
    """A 23 without PIN is a few reads: answered on the loop, with no hand-over to a
    thread and back. The login and a 23 with a PIN (argon2id) go to the threads."""
    seen: list[tuple[str, bool, str]] = []

    def see(msg: Message) -> None:
        seen.append((msg.code, on_the_event_loop(), threading.current_thread().name))

    with running(library) as server:
        answer, answer_each = server.answerer.answer, server.answerer.answer_each

        def watched(session: Session, msg: Message) -> Message | None:
            see(msg)
            return answer(session, msg)

        def watched_each(
            asked: Sequence[tuple[Session, Message]],
        ) -> list[Message | Exception | None]:
            for _, msg in asked:
                see(msg)
            return answer_each(asked)

        server.answerer.answer = watched  # type: ignore[method-assign]
        server.answerer.answer_each = watched_each  # type: ignore[method-assign]
        with connect(server) as t:
            assert b"|BLY|" in t.ask(patron_status(pin=None))
            assert b"|CQY|" in t.ask(patron_status(pin=PIN))
            assert b"|BLY|" in t.ask(patron_status(pin=""))
            assert t.ask(
                request("99", {"status": "0", "max_print_width": "080", "protocol_version": "2.00"})
            ).startswith(b"98")
    assert [(code, on_loop) for code, on_loop, _ in seen] == [
        ("93", False),
        ("23", True),
        ("23", False),
        ("23", True),
        ("99", True),
    ]
    assert all(name.startswith("sip2") for _, on_loop, name in seen if not on_loop)


def tls_files(directory: Path) -> tuple[Path, Path]:
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


def test_tls(library: App, tmp_path: Path) -> None:
    cert, key = tls_files(tmp_path)
    with running(library, tls_cert=cert, tls_key=key) as server:
        context = ssl.create_default_context(cafile=str(cert))
        with (
            socket.create_connection(("127.0.0.1", server.port), timeout=10) as plain,
            context.wrap_socket(plain, server_hostname="localhost") as secure,
        ):
            terminal = Raw(secure)  # type: ignore[arg-type]
            assert terminal.ask(login_frame()).startswith(b"941")
            assert b"BLY|CQY|" in terminal.ask(patron_status())
        # A client that does not speak TLS gets nothing SIP2 from it.
        with connect(server, login=None) as cleartext:
            cleartext.send(login_frame())
            assert not cleartext.frame().startswith(b"94")


def test_an_idle_connection_is_closed(library: App) -> None:
    with running(library, idle_seconds=0.2) as server, connect(server) as t:
        assert t.closed()


def test_the_idle_time_does_not_run_while_a_request_is_answered(library: App) -> None:
    with running(library, idle_seconds=0.3) as server:
        answer = server.answerer.answer

        def slow(session: Session, msg: Message) -> Message | None:
            time.sleep(0.8)
            return answer(session, msg)

        with connect(server) as t:
            server.answerer.answer = slow  # type: ignore[method-assign]
            began = time.monotonic()
            assert b"|CQY|" in t.ask(patron_status(pin=PIN))
            assert time.monotonic() - began >= 0.8
            began = time.monotonic()
            assert t.closed()  # then idle: closed after its 0.3 s
            assert time.monotonic() - began < 5


def test_shutdown_closes_open_connections(library: App) -> None:
    with running(library) as server:
        terminal = socket.create_connection(("127.0.0.1", server.port), timeout=10)
        raw = Raw(terminal)
        assert raw.ask(login_frame()).startswith(b"941")
    assert raw.closed()
    terminal.close()


@pytest.mark.parametrize("processes", [1, 2])
def test_patronauth_serve_runs_sip2_beside_the_web_and_stops_both(
    sqlite_url: str, tmp_path: Path, processes: int
) -> None:
    env = deployment_env(sqlite_url, tmp_path / "var")
    app = make_app(env)
    add_terminal(
        app.ports, login="kiosk1", institution="hkpl", password=TERMINAL_PASSWORD, staff=STAFF
    )
    app.close()
    web, sip2 = free_port(), free_port()
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("PATRONAUTH_")}
    script = Path(sys.executable).with_name("patronauth")
    log = (tmp_path / "serve.log").open("wb")
    process = subprocess.Popen(
        [
            str(script),
            "serve",
            "--port",
            str(web),
            "--sip2-port",
            str(sip2),
            "--sip2-processes",
            str(processes),
        ],
        env={**inherited, **env},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, (tmp_path / "serve.log").read_text()
            try:
                if httpx.get(f"http://127.0.0.1:{web}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "serve did not start"
            time.sleep(0.1)
        while (tmp_path / "serve.log").read_text().count("SIP2 server at") < processes:
            assert time.monotonic() < deadline, "the SIP2 processes did not start"
            time.sleep(0.1)
        terminal = Raw(socket.create_connection(("127.0.0.1", sip2), timeout=10))
        assert terminal.ask(login_frame()).startswith(b"941")
        # The port is taken: a second serve says so and starts nothing.
        second = subprocess.run(
            [str(script), "serve", "--port", str(free_port()), "--sip2-port", str(sip2)],
            env={**inherited, **env},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert second.returncode != 0
        assert f"SIP2 port 127.0.0.1:{sip2}" in second.stderr
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(60)
        log.close()
    text = (tmp_path / "serve.log").read_text()
    assert process.returncode == 0, text
    assert terminal.closed()
    terminal.sock.close()
    assert "Traceback" not in text
    assert text.count(f"SIP2 server at 127.0.0.1:{sip2}") == processes
    assert text.count("SIP2 server stopped") == processes


def test_a_full_hashing_pool_is_answered_96_and_counts_nothing(library: App) -> None:
    # A PIN of their own, kept as argon2: a full pool lets no hash judge a guess. (The
    # default is judged by its keyed digest: such a guess counts, pool full or not.)
    change_secret(
        library.ports,
        ChangeRequest(PATRON, PIN, "730519", "730519", Channel.SIP2, CredentialKind.PIN),
    )
    pool = HashPool(workers=1, queue=0)
    s = library.settings
    hasher = Argon2Hasher(
        keyring(s),
        Argon2Parameters(s.argon2_time_cost, s.argon2_memory_kib, s.argon2_parallelism),
        pool=pool,
    )
    busy = with_ports(library, hasher=hasher)
    release = threading.Event()
    with running(busy) as server, connect(server) as t:
        holder = threading.Thread(target=pool.run, args=(release.wait,))
        holder.start()
        try:
            for _ in range(6):  # six wrong PINs would block the card, were they counted
                assert t.ask(patron_status(pin="9999")) == b"96AZFEF6\r"
        finally:
            release.set()
            holder.join()
        # Nothing was counted: the right PIN still works.
        assert b"|BLY|CQY|" in t.ask(patron_status(pin="730519"))


def test_the_sip2_process_stops_when_serve_is_killed(sqlite_url: str, tmp_path: Path) -> None:
    env = deployment_env(sqlite_url, tmp_path / "var")
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("PATRONAUTH_")}
    script = Path(sys.executable).with_name("patronauth")
    sip2 = free_port()
    with (tmp_path / "serve.log").open("wb") as log:
        serve = subprocess.Popen(
            [str(script), "serve", "--port", str(free_port()), "--sip2-port", str(sip2)],
            env={**inherited, **env},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            children = Path(f"/proc/{serve.pid}/task/{serve.pid}/children")
            child = wait_for(lambda: children.read_text().split()[:1])
        finally:
            serve.kill()
            serve.wait()
    # Orphaned, even before it got going, the SIP2 process notices and exits.
    wait_for(lambda: not alive(int(child[0])))
    assert not accepts(sip2)
    assert "serve is gone, stopping" in (tmp_path / "serve.log").read_text()


def wait_for(probe: Callable[[], T], seconds: float = 30.0) -> T:
    deadline = time.monotonic() + seconds
    while not (value := probe()):
        assert time.monotonic() < deadline, "gave up waiting"
        time.sleep(0.1)
    return value


def accepts(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return False
    return True


def alive(pid: int) -> bool:
    """Running (a zombie waiting for init to reap it counts as gone)."""
    try:
        return " Z " not in Path(f"/proc/{pid}/stat").read_text().split(")", 1)[1][:4]
    except OSError:
        return False


def test_shutdown_answers_the_request_in_flight_then_closes(library: App) -> None:
    pool = HashPool(workers=1, queue=1)
    s = library.settings
    hasher = Argon2Hasher(
        keyring(s),
        Argon2Parameters(s.argon2_time_cost, s.argon2_memory_kib, s.argon2_parallelism),
        pool=pool,
    )
    release = threading.Event()
    with running(with_ports(library, hasher=hasher)) as server:
        busy, idle = connect(server), connect(server)
        with busy as terminal, idle as bystander:
            holder = threading.Thread(target=pool.run, args=(release.wait,))
            holder.start()
            terminal.send(patron_status())  # waits for the hashing pool
            wait_for(lambda: pool.in_use == 2)
            loop = server._server.get_loop()  # type: ignore[union-attr]
            closing = asyncio.run_coroutine_threadsafe(server.close(), loop)
            assert bystander.closed()  # an idle connection is closed at once
            release.set()
            holder.join()
            assert b"|BLY|CQY|" in terminal.frame()  # the request in flight is answered
            assert terminal.closed()
            closing.result(10)


def test_a_slow_pin_check_does_not_hold_up_other_terminals(library: App) -> None:
    pool = HashPool(workers=1, queue=2)
    s = library.settings
    hasher = Argon2Hasher(
        keyring(s),
        Argon2Parameters(s.argon2_time_cost, s.argon2_memory_kib, s.argon2_parallelism),
        pool=pool,
    )
    release = threading.Event()
    with (
        running(with_ports(library, hasher=hasher)) as server,
        connect(server) as slow,
        connect(server) as other,
    ):
        holder = threading.Thread(target=pool.run, args=(release.wait,))
        holder.start()
        try:
            slow.send(patron_status())  # its PIN check waits for the hashing pool
            wait_for(lambda: pool.in_use == 2)
            for _ in range(3):  # meanwhile another terminal is answered
                assert b"|BLY|" in other.ask(patron_status(pin=None))
        finally:
            release.set()
            holder.join()
        assert b"|BLY|CQY|" in slow.frame()


def test_control_characters_a_terminal_sends_are_escaped_in_the_log(
    server: Sip2Server, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="patronauth.sip2")
    forged = "X\x1b[2J\x00\x7f\u2028\\ \u9673"
    with connect(server) as t:
        t.ask(patron_status(identifier=forged))
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("SIP2 request 23")]
    # The parser has made C0 controls spaces; what is left unprintable is escaped.
    assert [line.split("; reply ")[0] for line in lines] == [
        "SIP2 request 23 language=001 AO=hkpl AA=X [2J  \\u2028\\\\ \u9673 AC=*** AD=***"
    ]
    for record in caplog.records:
        assert not any(ch in record.getMessage() for ch in "\x1b\x00\x7f\u2028")


def test_a_97_before_login_closes_the_connection(server: Sip2Server) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as raw:
        raw.sendall(b"97AZFEF5\r")
        assert raw.recv(100) == b""  # closed, nothing repeated
