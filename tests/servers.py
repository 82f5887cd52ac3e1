"""Private PostgreSQL and Redis servers for fault tests: a temporary data directory, a
free loopback port, and a process the test may stop, kill and start again without
disturbing the shared servers other tests use.

PostgreSQL refuses to run as root: under uid 0 the server runs as the `postgres` user
(which Debian's `postgresql` package creates), else as `nobody`.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import random
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

IN_CI = os.environ.get("CI", "").lower() == "true"
START_SECONDS = 30.0


def missing(what: str) -> None:
    message = f"{what} is not installed"
    if IN_CI:
        pytest.fail(f"{message}; CI=true requires it (.ci/run installs it)", pytrace=False)
    pytest.skip(f"{message}; install it to run these tests")


def _ephemeral_ports() -> tuple[int, int]:
    """The ports the kernel gives outgoing connections (Linux's range, else its default)."""
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32768, 60999


def free_port() -> int:
    """A free loopback port below the kernel's range for outgoing connections. A
    connection to a port of that range where nothing listens (a private server the test
    has killed) may be given that very port as its own and be joined to itself, reading
    back what it sent; a port below the range never is."""
    low, _ = _ephemeral_ports()
    for _ in range(100):
        port = random.randrange(max(1024, low - 12_000), low)
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue  # taken
            return port
    with socket.socket() as probe:  # none found below the range: any free one
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.2)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def postgres_bin() -> Path | None:
    """The newest installed server's bin folder (Debian's layout first, then PATH)."""

    def version(path: str) -> int:
        name = Path(path).parent.parent.name
        return int(name) if name.isdigit() else 0

    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"), key=version)
    if found:
        return Path(found[-1]).parent
    on_path = shutil.which("postgres")
    if on_path and shutil.which("initdb"):
        return Path(on_path).parent
    return None


def _unprivileged() -> pwd.struct_passwd | None:
    """Who runs the server: nobody special unless we are root."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    raise RuntimeError("running as root and neither a postgres nor a nobody user exists")


class PrivatePostgres:
    """initdb + postgres on a free port, trust authentication, database `patronauth`."""

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.port = free_port()
        self.user = _unprivileged()
        self.root = Path(tempfile.mkdtemp(prefix="patronauth-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "postgres.log"
        self._process: subprocess.Popen[bytes] | None = None
        if self.user is not None:
            os.chown(self.root, self.user.pw_uid, self.user.pw_gid)
        self._run(
            [
                str(bindir / "initdb"),
                "-D",
                str(self.data),
                "-A",
                "trust",
                "-U",
                "postgres",
                "-E",
                "UTF8",
                "--no-locale",
                "--no-sync",
            ]
        )

    @property
    def admin_url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/patronauth"

    def _as_user(self) -> dict[str, object]:
        if self.user is None:
            return {}
        return {"user": self.user.pw_uid, "group": self.user.pw_gid, "extra_groups": []}

    def _run(self, command: list[str]) -> None:
        done = subprocess.run(
            command,
            capture_output=True,
            cwd=self.root,
            check=False,
            **self._as_user(),  # type: ignore[arg-type]
        )
        if done.returncode != 0:
            raise RuntimeError(f"{command[0]} failed: {done.stderr.decode(errors='replace')}")

    def start(self) -> None:
        assert self._process is None or self._process.poll() is not None
        with self.log.open("ab") as log:
            self._process = subprocess.Popen(  # type: ignore[call-overload]
                [
                    str(self.bindir / "postgres"),
                    "-D",
                    str(self.data),
                    "-p",
                    str(self.port),
                    "-c",
                    "listen_addresses=127.0.0.1",
                    "-c",
                    f"unix_socket_directories={self.root}",
                    "-c",
                    "fsync=off",  # a process crash keeps committed work; an OS crash is not tested
                    "-c",
                    "max_connections=100",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.root,
                start_new_session=True,
                **self._as_user(),
            )
        self._wait_ready()

    def _wait_ready(self) -> None:
        import psycopg

        deadline = time.monotonic() + START_SECONDS
        while time.monotonic() < deadline:
            assert self._process is not None
            if self._process.poll() is not None:
                raise RuntimeError(f"postgres stopped while starting: {self.log.read_text()}")
            try:
                psycopg.connect(
                    host="127.0.0.1", port=self.port, user="postgres", dbname="postgres",
                    connect_timeout=1,
                ).close()  # fmt: skip
                return
            except psycopg.OperationalError:
                time.sleep(0.1)
        raise RuntimeError("postgres did not accept connections in time")

    def create_database(self) -> str:
        """The `patronauth` database, migrated; its URL."""
        from sqlalchemy import create_engine, text

        from patronauth.adapters.storage import migrate
        from patronauth.adapters.storage.engine import make_engine

        admin = create_engine(self.admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text("CREATE DATABASE patronauth"))
        admin.dispose()
        engine = make_engine(self.url)
        migrate.upgrade(engine)
        engine.dispose()
        return self.url

    def stop(self, *, immediate: bool = False) -> None:
        """A fast shutdown (SIGINT), or an immediate one (SIGQUIT: no checkpoint, crash
        recovery at the next start, as after a crash of the server)."""
        if self._process is None or self._process.poll() is not None:
            return
        self._process.send_signal(signal.SIGQUIT if immediate else signal.SIGINT)
        try:
            self._process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()

    def restart(self, *, immediate: bool = False) -> None:
        self.stop(immediate=immediate)
        self.start()

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


class PrivateRedis:
    """redis-server on a free port. Without persistence a restart starts empty; with it
    (the deploy example's settings: an append-only file written through on every
    change) a restart, even after SIGKILL, has every count back."""

    def __init__(self, binary: str, *, persistent: bool = False) -> None:
        self.binary = binary
        self.persistent = persistent
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="patronauth-redis-"))
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        assert self._process is None or self._process.poll() is not None
        with (self.root / "redis.log").open("ab") as log:
            self._process = subprocess.Popen(
                [
                    self.binary,
                    "--port",
                    str(self.port),
                    "--bind",
                    "127.0.0.1",
                    "--save",
                    "",
                    "--appendonly",
                    "yes" if self.persistent else "no",
                    "--appendfsync",
                    "always",
                    "--dir",
                    str(self.root),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + START_SECONDS
        while not _listening(self.port):
            if self._process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("redis-server did not start")
            time.sleep(0.05)

    def kill(self) -> None:
        """SIGKILL: gone at once, with everything it held."""
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            self._process.wait()

    def pause(self) -> None:
        """SIGSTOP: unreachable (connections hang) but nothing it holds is lost."""
        assert self._process is not None
        self._process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self._process is not None
        self._process.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self.resume()
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture
def private_postgres() -> Iterator[PrivatePostgres]:
    """A started private PostgreSQL with a migrated `patronauth` database."""
    bindir = postgres_bin()
    if bindir is None:
        missing("PostgreSQL (initdb, postgres)")
    assert bindir is not None
    server = PrivatePostgres(bindir)
    try:
        server.start()
        server.create_database()
        yield server
    finally:
        server.close()


@pytest.fixture
def private_redis() -> Iterator[PrivateRedis]:
    binary = shutil.which("redis-server")
    if binary is None:
        missing("redis-server")
    assert binary is not None
    server = PrivateRedis(binary)
    try:
        server.start()
        yield server
    finally:
        with contextlib.suppress(Exception):
            server.close()
