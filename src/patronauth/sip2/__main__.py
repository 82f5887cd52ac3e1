"""`python -m patronauth.sip2`: the SIP2 server as a process of its own.

`patronauth serve` binds the listening socket itself (so a port in use is reported at
once) and hands it over with `--fd`; run alone, the process binds `--host`/`--port`.
SIGTERM or SIGINT stops it cleanly: no new connections, requests being answered finish,
then every connection is closed.
"""

from __future__ import annotations

import argparse
import asyncio
import ctypes
import logging
import os
import signal
import socket
import sys

from patronauth.bootstrap import App, ConfigError, Settings, build, logs
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m patronauth.sip2")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=6001)
    parser.add_argument("--fd", type=int, default=None, help="an inherited listening socket")
    parser.add_argument("--parent", type=int, default=None, help="stop when this process ends")
    args = parser.parse_args(argv)
    keep_memory_bounded()
    try:
        settings = Settings.from_env()
        logs.configure(settings.log_format)
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
