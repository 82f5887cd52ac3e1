"""PatronAuth nodes for multi-node and fault tests: real `patronauth serve` processes
configured like the `deploy/` example, with only what a test must change changed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from patronauth.cli.serve import serve
from tests.servers import free_port
from tests.support import METRICS_TOKEN, TEST_PEPPER

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"
ENV_FILE = DEPLOY / "patronauth.env"
START_SECONDS = 60.0


def read_env_file(path: Path = ENV_FILE) -> dict[str, str]:
    """A systemd EnvironmentFile as systemd reads it: NAME=value lines, # comments."""
    values: dict[str, str] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        name, sep, value = stripped.partition("=")
        if not sep or not name.isidentifier() or name != name.strip():
            raise ValueError(f"{path.name}:{number}: not NAME=value")
        values[name] = value
    return values


def node_env(database_url: str, redis_url: str, var_dir: Path) -> tuple[dict[str, str], set[str]]:
    """The deploy example's settings for a test node on loopback, and the names changed:
    where the data lives, the secrets, the mail, and argon2 cheap enough for a test."""
    changed = {
        "PATRONAUTH_DATABASE_URL": database_url,
        "PATRONAUTH_REDIS_URL": redis_url,
        "PATRONAUTH_VAR_DIR": str(var_dir),
        "PATRONAUTH_PEPPER_FILE": str(var_dir / "pepper.key"),
        "PATRONAUTH_PEPPER": TEST_PEPPER,
        "PATRONAUTH_OUTBOX_DIR": str(var_dir / "outbox"),
        "PATRONAUTH_SMTP_URL": "",
        "PATRONAUTH_ARGON2_TIME_COST": "1",
        "PATRONAUTH_ARGON2_MEMORY_KIB": "1024",
        "PATRONAUTH_STAFF": "test",
        "PATRONAUTH_METRICS_TOKEN": METRICS_TOKEN,
    }
    return read_env_file() | changed, set(changed)


class Node:
    """`patronauth serve` on a free loopback port, as the systemd unit starts it."""

    def __init__(self, env: dict[str, str], log: Path, *, workers: int = 1) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        script = Path(sys.executable).with_name("patronauth")
        command = [str(script), "serve", "--host", "127.0.0.1", "--port", str(self.port)]
        command += ["--workers", str(workers)]
        if any(p.name == "sip2_port" for p in serve.params):  # its own SIP2 port, too
            command += ["--sip2-port", str(free_port())]
        inherited = {k: v for k, v in os.environ.items() if not k.startswith("PATRONAUTH_")}
        with log.open("ab") as out:
            self._process = subprocess.Popen(
                command,
                env=inherited | env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def wait_ready(self) -> None:
        deadline = time.monotonic() + START_SECONDS
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"patronauth serve stopped:\n{self.log.read_text()[-2000:]}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError("patronauth serve did not answer /healthz in time")

    def stop(self) -> None:
        if self._process.poll() is None:
            self._process.send_signal(signal.SIGTERM)
            try:
                self._process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()


def start_nodes(env: dict[str, str], var: Path, count: int = 2) -> list[Node]:
    nodes = [Node(env, var / f"node-{n}.log") for n in range(count)]
    try:
        for node in nodes:
            node.wait_ready()
    except BaseException:
        for node in nodes:
            node.stop()
        raise
    return nodes


@contextmanager
def running(env: dict[str, str], var: Path, count: int = 2) -> Iterator[list[Node]]:
    nodes = start_nodes(env, var, count)
    try:
        yield nodes
    finally:
        for node in nodes:
            node.stop()
