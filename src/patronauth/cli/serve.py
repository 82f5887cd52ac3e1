"""`patronauth serve`: the web pages and the JSON API in one process (or several), and
the SIP2 server in a process of its own.

The SIP2 server is one asyncio process whatever `--workers` says: its connections are
long-lived and mostly idle, so one event loop holds thousands of them, and its blocking
work (argon2id, the database) runs in that process's thread pool. `--sip2-processes N`
(PATRONAUTH_SIP2_PROCESSES) runs N of them on the same port (SO_REUSEPORT) when one
process's share of a core is not enough. `serve` binds the SIP2 port itself, so a port
in use is reported before anything starts, and hands the socket to
`python -m patronauth.sip2`, which it stops (SIGTERM, then a clean shutdown) when
uvicorn returns.

SIGTERM (or Ctrl-C) stops uvicorn gracefully: it stops accepting connections and lets
the requests in flight finish, for at most PATRONAUTH_SHUTDOWN_SECONDS. With several
workers, the Prometheus metrics of all of them (and of the SIP2 server) are kept in
var/metrics/ (or PROMETHEUS_MULTIPROC_DIR when set) and `/metrics` adds them up.
PATRONAUTH_METRICS_ADDRESS serves `/metrics` from this process on an address of its
own; on the public port it needs PATRONAUTH_METRICS_TOKEN.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click
import uvicorn

from patronauth.bootstrap import HASH_GATE, Settings, hash_gate, logs, metrics, var_path
from patronauth.cli.common import ctx

log = logging.getLogger("patronauth.serve")


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=click.IntRange(1, 65535), default=8000, show_default=True)
@click.option("--workers", type=click.IntRange(1, 64), default=1, show_default=True)
@click.option("--sip2-host", default=None, help="SIP2 address  [default: --host]")
@click.option("--sip2-port", type=click.IntRange(1, 65535), default=6001, show_default=True)
@click.option(
    "--sip2-processes",
    type=click.IntRange(1, 64),
    default=None,
    help="SIP2 server processes on the port  [default: PATRONAUTH_SIP2_PROCESSES, 1]",
)
@click.option(
    "--sip2/--no-sip2", "sip2", default=True, show_default=True, help="run the SIP2 server"
)
def serve(
    host: str,
    port: int,
    workers: int,
    sip2_host: str | None,
    sip2_port: int,
    sip2_processes: int | None,
    sip2: bool,
) -> None:
    """Serve My Account at / and the app's API at /api/v1 (uvicorn), and SIP2."""
    c = ctx()
    c.settings  # fail here, with a clear message, on a bad configuration  # noqa: B018
    logs.configure(c.settings.log_format)
    log.info("PatronAuth at http://%s:%d/  (API: http://%s:%d/api/v1)", host, port, host, port)
    _public_url(served_url(host, port))
    _metrics_folder(c.settings, workers)
    if c.settings.metrics_address is not None:
        metrics_host, metrics_port = c.settings.metrics_address
        try:
            metrics.serve_separately(metrics_host, metrics_port, c.settings.metrics_token)
        except OSError as error:
            raise click.ClickException(
                f"metrics address {metrics_host}:{metrics_port}: {error.strerror}"
            ) from None
        log.info("Metrics at http://%s:%d/metrics", metrics_host, metrics_port)
    # uvicorn finishes the requests in flight on SIGTERM, then raises the signal again:
    # this handler turns it into a normal exit, so the SIP2 server is stopped too.
    signal.signal(signal.SIGTERM, _exit_cleanly)
    processes = sip2_processes or c.settings.sip2_processes
    if sip2 and processes > 1 and c.settings.counter == "memory":
        raise click.ClickException("several SIP2 processes need a shared counter (sql or redis)")
    with _sip2_server(
        sip2_host or host, sip2_port, c.settings.shutdown_seconds, processes, enabled=sip2
    ):
        _uvicorn(host, port, workers, c.settings)


def served_url(host: str, port: int) -> str:
    """The address `serve` was given, as a link would name it (a wildcard host: loopback)."""
    shown = {"0.0.0.0": "127.0.0.1", "::": "[::1]", "": "127.0.0.1"}.get(host, host)  # noqa: S104
    if ":" in shown and not shown.startswith("["):
        shown = f"[{shown}]"
    return f"http://{shown}:{port}"


def _public_url(served: str) -> None:
    """Links in e-mails follow PATRONAUTH_PUBLIC_URL; without it, the address `serve` was
    given (the workers read it from the environment). When the two differ, say so: it
    is right behind a proxy, and a broken link otherwise."""
    configured = (os.environ.get("PATRONAUTH_PUBLIC_URL") or "").rstrip("/")
    if not configured:
        os.environ["PATRONAUTH_PUBLIC_URL"] = served
        return
    if configured != served:
        log.warning(
            "PATRONAUTH_PUBLIC_URL is %s but serve listens at %s: links in e-mails point "
            "to %s (right behind a proxy; otherwise set PATRONAUTH_PUBLIC_URL or --port)",
            configured,
            served,
            configured,
        )


def _exit_cleanly(signum: int, _frame: object) -> None:
    raise SystemExit(0)


def _metrics_folder(settings: Settings, workers: int) -> None:
    """Multiprocess metrics: a folder emptied at every start, before any worker runs.
    One worker keeps its metrics in memory, unless PROMETHEUS_MULTIPROC_DIR is set
    before `serve` starts (then the SIP2 server's are added too)."""
    chosen = metrics.multiprocess_dir()
    if chosen is not None:
        metrics.prepare_multiprocess(Path(chosen))
    elif workers > 1:
        metrics.prepare_multiprocess(var_path(settings, "metrics"))


@contextmanager
def _sip2_server(
    host: str, port: int, grace: int, processes: int, *, enabled: bool
) -> Iterator[None]:
    if not enabled:
        yield
        return
    try:
        # Several processes each bind a socket of their own to the port: this first one
        # must allow it too (SO_REUSEPORT is set before binding, on every socket).
        listening = socket.create_server((host, port), backlog=1024, reuse_port=processes > 1)
    except OSError as error:
        raise click.ClickException(f"SIP2 port {host}:{port}: {error.strerror}") from None
    fd = listening.fileno()
    process = subprocess.Popen(  # noqa: S603 (our own interpreter and module)
        [
            sys.executable,
            "-m",
            "patronauth.sip2",
            "--host",
            host,
            "--port",
            str(port),
            "--fd",
            str(fd),
            "--parent",
            str(os.getpid()),
            "--processes",
            str(processes),
        ],
        pass_fds=(fd,),
        # SIP2's processes hash on their own shares of the cores (`sharing_cores`); the
        # web workers' gate is not theirs.
        env={name: value for name, value in os.environ.items() if name != HASH_GATE},
    )
    listening.close()
    try:
        yield
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(grace + 5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _hash_gate(settings: Settings, workers: int) -> None:
    """Several web workers share one gate of as many places as each one's pool has
    (adapters/hash_gate.py), in a folder of the var folder named to the workers in
    PATRONAUTH_HASH_GATE; a folder set before `serve` starts is kept (and made)."""
    if workers < 2:
        return
    folder = settings.hash_gate or var_path(settings, "hash-gate")
    try:
        hash_gate.prepare(folder, settings.hash_workers)
    except OSError as error:  # the gate only orders work: serve without it
        log.warning("argon2id gate not made in %s (%s): hashing ungated", folder, error)
        os.environ.pop(HASH_GATE, None)  # the workers are told of no gate
        return
    os.environ[HASH_GATE] = str(folder)


def _uvicorn(host: str, port: int, workers: int, settings: Settings) -> None:
    # Each worker keeps a hashing pool of one place per core (PATRONAUTH_HASH_WORKERS),
    # unlike SIP2's processes (python -m patronauth.sip2): they share one listening
    # socket, and one worker may accept every connection of a burst (wrk's 8, a proxy's
    # few kept-alive ones), which a share of the cores would then hash on alone. The
    # gate keeps all of them together at that many computations at once.
    _hash_gate(settings, workers)
    uvicorn.run(
        "patronauth.asgi:create",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        server_header=False,
        proxy_headers=False,
        log_level="info",
        log_config=logs.config(settings.log_format),
        access_log=False,
        timeout_graceful_shutdown=settings.shutdown_seconds,
    )
