"""Several SIP2 server processes on one port (`python -m patronauth.sip2 --processes 2`,
SO_REUSEPORT): the lockout stays exact across them, because the attempt counters live
in the shared store (the database; Redis beside PostgreSQL). Failures made through one
process and through the other add up, for a card's PIN and for a terminal's password.

The terminals are the PyPI `sip2` kiosk client; which process serves a connection is
read from /proc (the process holding the server side of that TCP connection)."""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from Sip2.wrapper import Sip2Wrapper

from patronauth.adapters.config import hash_share
from patronauth.bootstrap import App
from tests.servers import free_port
from tests.sip2.conftest import PATRON, PIN, TERMINAL_PASSWORD

if not sys.platform.startswith("linux"):
    pytest.skip("SO_REUSEPORT spreading and /proc are Linux's", allow_module_level=True)

PROCESSES = 2


class Served:
    """`python -m patronauth.sip2 --processes 2` on a free loopback port."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.port = free_port()
        self.log = log
        inherited = {k: v for k, v in os.environ.items() if not k.startswith("PATRONAUTH_")}
        with log.open("wb") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "patronauth.sip2", "--port", str(self.port),
                 "--processes", str(PROCESSES)],
                env=inherited | env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )  # fmt: skip
        deadline = time.monotonic() + 60
        while self.log.read_text(errors="replace").count("SIP2 server at") < PROCESSES:
            assert self.process.poll() is None, self.log.read_text()[-3000:]
            assert time.monotonic() < deadline, "the SIP2 processes did not start"
            time.sleep(0.1)

    def workers(self) -> list[int]:
        """The server processes started by the supervising one."""
        found = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    stat = (entry / "stat").read_text()
                except OSError:
                    continue
                if int(stat.rsplit(")", 1)[1].split()[1]) == self.process.pid:
                    found.append(int(entry.name))
        return sorted(found)

    def serving(self, client: socket.socket) -> int:
        """The worker holding the server side of `client`'s connection."""
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:  # until a worker has accepted it (inode not 0)
            inode = _server_side_inode(self.port, client.getsockname()[1])
            for pid in self.workers():
                for fd in Path(f"/proc/{pid}/fd").iterdir():
                    try:
                        if os.readlink(fd) == f"socket:[{inode}]":
                            return pid
                    except OSError:
                        continue
            time.sleep(0.05)
        raise AssertionError("no worker holds the connection")

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()


def _server_side_inode(server_port: int, client_port: int) -> str:
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote = fields[1], fields[2]
        if (int(local.split(":")[1], 16), int(remote.split(":")[1], 16)) == (
            server_port,
            client_port,
        ):
            return fields[9]
    raise AssertionError("the connection is not in /proc/net/tcp")


def kiosk(port: int, logs: Path) -> Sip2Wrapper:
    return Sip2Wrapper(
        {
            "hostName": "127.0.0.1",
            "hostPort": port,
            "tlsEnable": False,
            "socketTimeout": 10,
            "hostEncoding": "utf-8",
            "institutionId": "hkpl",
            "scLocation": "Central",
            "language": "001",
            "logfile_path": str(logs),
            "loglevel": "WARNING",
        },
        True,
        "Sip2",
    )


@pytest.fixture
def deployment(library: App, env: dict[str, str], request: pytest.FixtureRequest) -> dict[str, str]:
    """The test library's settings; on PostgreSQL the counter is Redis, as in production."""
    if library.engine.dialect.name == "sqlite":
        return env
    # A database of this test worker's own, emptied first: the tests here count the
    # same cards' attempts, and no other test's keys in the shared server are touched.
    worker = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw") or 0)
    shared = urlsplit(request.getfixturevalue("redis_url"))
    redis_url = shared._replace(path=f"/{13 - worker}").geturl()
    from redis import Redis

    Redis.from_url(redis_url).flushdb()
    return env | {"PATRONAUTH_REDIS_URL": redis_url, "PATRONAUTH_COUNTER": "redis"}


@pytest.fixture
def served(deployment: dict[str, str], tmp_path: Path) -> Iterator[Served]:
    server = Served(deployment, tmp_path / "sip2.log")
    try:
        yield server
    finally:
        assert server.stop() == 0
        client_log = logging.getLogger("Sip2")
        for handler in list(client_log.handlers):
            client_log.removeHandler(handler)
            handler.close()


@pytest.fixture
def two_kiosks(served: Served, tmp_path: Path) -> Iterator[tuple[Sip2Wrapper, Sip2Wrapper]]:
    """Two kiosk connections served by different processes (the kernel picks the
    process by the connection's addresses: new connections until both are hit)."""
    assert len(served.workers()) == PROCESSES
    by_worker: dict[int, Sip2Wrapper] = {}
    spare = []
    for _ in range(64):
        client = kiosk(served.port, tmp_path)
        worker = served.serving(client.return_sip2()._socket)
        if worker in by_worker:
            spare.append(client)
        else:
            by_worker[worker] = client
        if len(by_worker) == PROCESSES:
            break
    for client in spare:
        client.disconnect()
    assert len(by_worker) == PROCESSES, "every connection went to one process"
    first, second = by_worker.values()
    try:
        yield first, second
    finally:
        first.disconnect()
        second.disconnect()


def test_wrong_pins_through_two_processes_add_up_and_block_the_card(
    two_kiosks: tuple[Sip2Wrapper, Sip2Wrapper],
) -> None:
    first, second = two_kiosks
    for terminal in (first, second):
        assert terminal.login_device("kiosk1", TERMINAL_PASSWORD, True) is True
    # Five wrong PINs, three through one process and two through the other: either
    # process alone has seen fewer than the five that block the card.
    for terminal in (first, second, first, second, first):
        assert terminal.login_patron(PATRON, "9999") is False
        assert terminal.return_last_response_parsed()["variable"]["CQ"] == ["N"]
    # The sixth attempt, with the right PIN, is refused by both processes.
    for terminal in (second, first):
        assert terminal.login_patron(PATRON, PIN) is False
        reply = terminal.return_last_response_parsed()
        assert reply["variable"]["BL"] == ["Y"]
        assert reply["variable"]["CQ"] == ["N"]
        assert reply["fixed"]["PatronStatus"][:4] == "YYYY"


def test_wrong_terminal_passwords_through_two_processes_add_up(
    two_kiosks: tuple[Sip2Wrapper, Sip2Wrapper],
) -> None:
    first, second = two_kiosks
    for terminal in (first, second, first, second, first):
        with pytest.raises(RuntimeError, match="Login failed"):
            terminal.sip_login("kiosk1", "not-the-password")
    # The terminal account is now blocked: its right password is refused by both.
    for terminal in (second, first):
        with pytest.raises(RuntimeError, match="Login failed"):
            terminal.sip_login("kiosk1", TERMINAL_PASSWORD)


def test_each_process_hashes_on_its_share_of_the_cores(served: Served) -> None:
    """Two processes with a hashing pool of one per core each would run twice as many
    argon2id computations as there are cores (docs/sip2.md)."""
    share = hash_share(os.cpu_count() or 1, PROCESSES)
    pools = [line for line in served.log.read_text().splitlines() if "hashing pool" in line]
    assert len(pools) == PROCESSES
    assert all(line.endswith(f"argon2id hashing pool: {share} at a time in this process")
               for line in pools), pools  # fmt: skip
