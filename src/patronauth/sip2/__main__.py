"""`python -m patronauth.sip2`: the SIP2 server as a process of its own, or several.

`patronauth serve` binds the listening socket itself (so a port in use is reported at
once) and hands it over with `--fd`; run alone, the process binds `--host`/`--port`.
SIGTERM or SIGINT stops it cleanly: no new connections, requests being answered finish,
then every connection is closed.

With `--processes N` (PATRONAUTH_SIP2_PROCESSES) above 1, this process only supervises:
it starts N server processes, each listening on a socket of its own bound to the same
address with SO_REUSEPORT, so that the kernel spreads new connections over them and
each process's event loop and threads use a core of their own (and, unless
PATRONAUTH_HASH_WORKERS says otherwise, its share of the cores for argon2id: one each
on two cores with two processes). An inherited `--fd` must
have been bound with SO_REUSEPORT too (as `serve` does); it becomes the first one's.
Nothing a lockout decides is kept in a process: attempt counters live in the shared
store (the database or Redis), so N processes count every wrong PIN, and every wrong
terminal password, as one would. SIGTERM or SIGINT is passed on to every process.
"""

from __future__ import annotations

import argparse
import asyncio
import ctypes
import logging
import os
import signal
import socket
import subprocess
import sys
import time

from patronauth.bootstrap import App, ConfigError, Settings, build, logs, sharing_cores
from patronauth.sip2.answers import Answers
from patronauth.sip2.server import ServerOptions, Sip2Server


def options_of(settings: Settings) -> ServerOptions:
    return ServerOptions(
        idle_seconds=float(settings.sip2_idle_seconds),
        threads=settings.sip2_threads,
        tls_cert=settings.sip2_tls_cert,
        tls_key=settings.sip2_tls_key,
        shutdown_seconds=float(settings.shutdown_seconds),
    )


async def run(app: App, host: str, port: int, fd: int | None, parent: int | None) -> None:
    server = Sip2Server(Answers(app.ports), options_of(app.settings))
    listening = socket.socket(fileno=fd) if fd is not None else None
    await server.start(host, port, sock=listening)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    logging.getLogger("patronauth.sip2").info(
        "argon2id hashing pool: %d at a time in this process", app.settings.hash_workers
    )
    print(f"SIP2 server at {host}:{server.port}", file=sys.stderr, flush=True)
    watch = asyncio.create_task(_parent_gone(parent, stop)) if parent is not None else None
    await stop.wait()
    if watch is not None:
        watch.cancel()
    await server.close()


async def _parent_gone(parent: int, stop: asyncio.Event) -> None:
    """Stop when the `serve` process that started this one is gone, however it ended
    (even SIGKILL, even before this process got going): a SIP2 server must not outlive
    the service it belongs to."""
    while os.getppid() == parent:
        await asyncio.sleep(1.0)
    logging.getLogger("patronauth.sip2").warning("SIP2 server: serve is gone, stopping")
    stop.set()


def keep_memory_bounded() -> None:
    """Each argon2id verification takes ~19 MiB. glibc gives threads arenas of their own
    and keeps such a block in each arena after the first free, so a pool of threads
    taking turns at verifying ends up holding a block per arena, or two where two
    verifications met in one. With a single arena, the memory held stays at what the
    hashing pool runs at once (PATRONAUTH_HASH_WORKERS blocks); small objects are
    Python's own allocator's business and do not contend for it."""
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:  # not glibc: nothing to tune
        return
    m_arena_max = -8
    libc.mallopt(m_arena_max, 1)


def listening_sockets(host: str, port: int, fd: int | None, count: int) -> list[socket.socket]:
    """`count` listening sockets on one address with SO_REUSEPORT: the inherited one
    (or one bound here to `host`:`port`) and as many more on its address."""
    first = (
        socket.socket(fileno=fd)
        if fd is not None
        else socket.create_server((host, port), backlog=1024, reuse_port=True)
    )
    address = first.getsockname()[:2]
    sockets = [first]
    try:
        for _ in range(count - 1):
            sockets.append(
                socket.create_server(address, family=first.family, backlog=1024, reuse_port=True)
            )
    except OSError:
        for made in sockets:
            made.close()
        raise
    return sockets


def supervise(sockets: list[socket.socket], parent: int | None, grace: float) -> int:
    """One `python -m patronauth.sip2` per socket; SIGTERM or SIGINT (or the end of
    `parent`) stops them all. A process that ends by itself is reported; the others go
    on serving (its socket left the port's group, the kernel no longer sends it
    connections). 0 once stopped, 1 when every process ended by itself."""
    log = logging.getLogger("patronauth.sip2")
    stop: list[int] = []
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda number, _frame: stop.append(number))
    children = []
    host, port = sockets[0].getsockname()[:2]
    environment = sharing_cores(os.environ, len(sockets))
    for listening in sockets:
        fd = listening.fileno()
        children.append(
            subprocess.Popen(  # noqa: S603 (our own interpreter and module)
                [
                    sys.executable,
                    "-m",
                    "patronauth.sip2",
                    "--fd",
                    str(fd),
                    "--processes",
                    "1",
                    "--parent",
                    str(os.getpid()),
                ],
                pass_fds=(fd,),
                env=environment,
            )
        )
        listening.close()
    log.info("SIP2 server: %d processes on %s:%d", len(children), host, port)
    reported: set[int] = set()
    while not stop:
        if parent is not None and os.getppid() != parent:
            log.warning("SIP2 server: serve is gone, stopping")
            break
        for child in children:
            if child.poll() is not None and child.pid not in reported:
                reported.add(child.pid)
                log.warning("SIP2 server process %d ended (%s)", child.pid, child.returncode)
        if len(reported) == len(children):
            return 1
        time.sleep(0.2)
    for child in children:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + grace + 5
    for child in children:
        try:
            child.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m patronauth.sip2")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=6001)
    parser.add_argument("--fd", type=int, default=None, help="an inherited listening socket")
    parser.add_argument("--parent", type=int, default=None, help="stop when this process ends")
    parser.add_argument(
        "--processes",
        type=int,
        default=None,
        help="server processes on the port (SO_REUSEPORT) [default: PATRONAUTH_SIP2_PROCESSES, 1]",
    )
    args = parser.parse_args(argv)
    try:
        settings = Settings.from_env()
        processes = settings.sip2_processes if args.processes is None else args.processes
        if processes < 1:
            raise ConfigError("--processes must be at least 1")
        if processes > 1 and settings.counter == "memory":
            raise ConfigError("several SIP2 processes need a shared counter (sql or redis)")
        logs.configure(settings.log_format)
        if processes > 1:
            try:
                sockets = listening_sockets(args.host, args.port, args.fd, processes)
            except OSError as error:
                raise ConfigError(f"SIP2 port {args.host}:{args.port}: {error.strerror}") from None
            return supervise(sockets, args.parent, float(settings.shutdown_seconds))
        keep_memory_bounded()
        app = build(settings)
    except ConfigError as error:
        print(f"SIP2 server not started: {error}", file=sys.stderr)
        return 2
    try:
        asyncio.run(run(app, args.host, args.port, args.fd, args.parent))
    finally:
        app.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
