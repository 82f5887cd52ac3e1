"""The SIP2 server: asyncio streams around `Connection`; the only socket code of SIP2.

Each connection reads, feeds the state machine and writes what it says. Requests are
answered one at a time per connection by `Answers.answer`, a blocking call (argon2id,
the database) run in a bounded thread pool so that one slow PIN check does not stall
the other terminals. A request the answerer calls quick (a few reads, no secret
checked, nothing written: a 23 without PIN) is answered on the event loop itself:
handing it to a thread and its answer back cost more than its reads. The quick requests
that arrive in one turn of the loop (from every terminal whose request it has just
read) are answered together (`Answerer.answer_each`), so that their reads are made once
for all of them: one statement and one read of the attempt counter, not two round trips
each. While the loop waits for those reads it answers nothing else, so when they grow
slow (a database across a network, or one stalled) quick requests go to the thread pool
as well, still together, until they are quick again (`QuickLane`). A connection idle
longer than `idle_seconds` is closed.

Every exchange is logged (logger `patronauth.sip2`) with the secret fields masked:
patron PINs (AD), terminal passwords (CO, AC); personal data (names, addresses, e-mail,
phone) is left out as well. An unreadable frame is logged by its length only.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import ssl
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from patronauth.domain.terminals import Terminal
from patronauth.sip2.connection import MAX_FRAME, Close, Connection, Request, Send
from patronauth.sip2.messages import Message

log = logging.getLogger("patronauth.sip2")

HIDDEN = frozenset({"AD", "CO", "AC", "AE", "BD", "BE", "BF"})
"""Fields never written to a log: secrets and personal data."""

READ_SIZE = 4096


def printable(text: str) -> str:
    """Text a terminal sent, fit for a log line: control and other unprintable
    characters (ESC, NUL, DEL, U+2028 ...) and the backslash written as escapes, so
    that a field can neither forge a log line nor drive the operator's terminal."""
    if text.isprintable() and "\\" not in text:
        return text  # the usual case, without a look at each character
    return "".join(
        ch if ch.isprintable() and ch != "\\" else ch.encode("unicode_escape").decode("ascii")
        for ch in text
    )


def masked(msg: Message) -> str:
    """A log line's view of a message: its code and fields, secrets replaced by `***`."""
    parts = [msg.code, *(f"{k}={v}" for k, v in msg.fixed.items() if k != "date")]
    parts += [f"{k}={'***' if k in HIDDEN else v}" for k, v in msg.fields]
    return printable(" ".join(parts))


@dataclass
class Session:
    """What the server knows about one connection; `Answers` fills in the rest."""

    source: str
    terminal: Terminal | None = None
    logged_in_at: float = 0.0  # when the terminal logged in (monotonic)
    encoding: str = "utf-8"
    crlf: bool = False


class Answerer:
    """What the server asks for every request (implemented by `answers.Answers`)."""

    def answer(self, session: Session, msg: Message) -> Message | None:
        """The reply to `msg`, or None to close the connection without one."""
        raise NotImplementedError

    def quick(self, msg: Message) -> bool:
        """Whether `msg` is answered from a few reads, with no secret checked and
        nothing written: such a request is answered on the event loop itself, since
        handing it to a thread and its answer back costs more than the reads."""
        return False

    def answer_each(
        self, asked: Sequence[tuple[Session, Message]]
    ) -> list[Message | Exception | None]:
        """`answer` of each of `asked`, quick requests that arrived together, in order;
        what one of them raises is its answer. An answerer may read for all at once."""
        return each_answered(asked, self.answer)


def each_answered(
    asked: Sequence[tuple[Session, Message]],
    answer: Callable[[Session, Message], Message | None],
) -> list[Message | Exception | None]:
    """`answer` of each request in order; what one of them raises is its answer."""
    replies: list[Message | Exception | None] = []
    for session, msg in asked:
        try:
            replies.append(answer(session, msg))
        except Exception as error:  # handed back as this one's answer
            replies.append(error)
    return replies


_Waiting = tuple[Session, Message, "asyncio.Future[Message | None]"]


@dataclass(frozen=True)
class ServerOptions:
    idle_seconds: float = 300.0
    max_frame: int = MAX_FRAME
    threads: int = 8
    tls_cert: Path | None = None
    tls_key: Path | None = None
    shutdown_seconds: float = 10.0
    # Quick answers stay on the event loop while their batches average at most this long.
    quick_seconds: float = 0.02


class QuickLane:
    """Where quick requests (`Answerer.quick`) are answered: on the event loop while
    the answers of those that arrived together take on average at most `limit` seconds
    (the time the loop stops for them), in the thread pool once they take longer, and
    on the loop again once the average is back under half of `limit`. Each such batch
    weighs `weight` in the average: with the server's 20 ms, one read stalled for a
    fifth of a second or more moves the lane at once, while a batch (a few milliseconds
    for a hundred answers on loopback) that waited a few milliseconds for a core or for
    the interpreter's cycle collector does not."""

    def __init__(self, limit: float, weight: float = 0.1) -> None:
        self.limit = limit
        self.weight = weight
        self.average = 0.0
        self.on_loop = True

    def took(self, seconds: float) -> bool:
        """Count one batch of quick answers that took `seconds`; True when the lane
        changed."""
        self.average += self.weight * (seconds - self.average)
        was = self.on_loop
        if was and self.average > self.limit:
            self.on_loop = False
        elif not was and self.average < self.limit / 2:
            self.on_loop = True
        return was != self.on_loop


def tls_context(cert: Path, key: Path) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert, key)
    return context


class Sip2Server:
    """Many terminals at once on one event loop; `start`, then `close` to shut down."""

    def __init__(self, answerer: Answerer, options: ServerOptions | None = None) -> None:
        self.answerer = answerer
        self.options = options or ServerOptions()
        self._pool = ThreadPoolExecutor(self.options.threads, thread_name_prefix="sip2")
        self.quick_lane = QuickLane(self.options.quick_seconds)
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[None]] = set()
        self._answering: set[asyncio.Task[None]] = set()
        self._quick: list[_Waiting] = []  # quick requests to answer in this turn
        self._closing = False

    @property
    def connections(self) -> int:
        return len(self._connections)

    async def start(
        self, host: str = "127.0.0.1", port: int = 6001, *, sock: object | None = None
    ) -> asyncio.Server:
        o = self.options
        context = tls_context(o.tls_cert, o.tls_key) if o.tls_cert and o.tls_key else None
        if sock is not None:
            self._server = await asyncio.start_server(
                self._accept, sock=sock, ssl=context, limit=o.max_frame * 2
            )
        else:
            self._server = await asyncio.start_server(
                self._accept, host, port, ssl=context, limit=o.max_frame * 2, backlog=1024
            )
        for s in self._server.sockets:
            log.info(
                "SIP2 server listening on %s", s.getsockname()[:2], extra={"tls": bool(context)}
            )
        return self._server

    @property
    def port(self) -> int:
        assert self._server is not None
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    async def close(self) -> None:
        """Stop accepting; a request being answered gets its answer (for at most
        `shutdown_seconds`), then its connection is closed; idle connections at once."""
        self._closing = True
        if self._server is not None:
            self._server.close()
        tasks = list(self._connections)
        for task in tasks:
            if task not in self._answering:
                task.cancel()
        if tasks:
            _, late = await asyncio.wait(tasks, timeout=self.options.shutdown_seconds)
            for task in late:
                task.cancel()
            if late:
                await asyncio.wait(late, timeout=1.0)
        if self._server is not None:
            with contextlib.suppress(Exception):
                await self._server.wait_closed()
        self._pool.shutdown(wait=True, cancel_futures=True)
        log.info("SIP2 server stopped")

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        try:
            await self._serve(reader, writer)
        except asyncio.CancelledError:
            log.info("SIP2 connection closed at shutdown")
        except ConnectionError as error:
            log.info("SIP2 connection lost: %s", type(error).__name__)
        finally:
            self._connections.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(writer.wait_closed(), 1.0)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        session = Session(source=str(peer[0]) if peer else "")
        connection = Connection(max_frame=self.options.max_frame)
        loop = asyncio.get_running_loop()
        context = {"source": session.source}
        log.info("SIP2 connection opened", extra=context)
        # One timer for the connection's whole life, set again before each read (and
        # off while a request is answered): cheaper than a `wait_for` per read, which
        # starts a task of its own each time.
        quiet = asyncio.timeout(None)
        try:
            async with quiet:
                while True:
                    quiet.reschedule(loop.time() + self.options.idle_seconds)
                    data = await reader.read(READ_SIZE)
                    quiet.reschedule(None)
                    if not await self._received(connection, session, writer, data, context):
                        return
        except TimeoutError:
            if not quiet.expired():
                raise
            log.info("SIP2 connection idle: closed", extra=context)

    async def _received(
        self,
        connection: Connection,
        session: Session,
        writer: asyncio.StreamWriter,
        data: bytes,
        context: dict[str, str],
    ) -> bool:
        """Answers what `data` completes; False when the connection is to be closed."""
        if not data:
            log.info(
                "SIP2 connection closed by the terminal%s",
                f" ({connection.pending} bytes of an unfinished frame)"
                if connection.pending
                else "",
                extra=context,
            )
            return False
        for event in connection.receive(data):
            if isinstance(event, Close):
                log.warning("SIP2 connection closed: %s", printable(event.reason), extra=context)
                return False
            if isinstance(event, Send):
                log.info(
                    "SIP2 sent %s: %s",
                    event.data[:2].decode("ascii"),
                    printable(event.reason),
                    extra=context,
                )
                writer.write(event.data)
                continue
            reply = await self._answer(session, event, context)
            if reply is None:
                return False
            if event.message.code == "93":
                connection.configure(encoding=session.encoding, crlf=session.crlf)
            writer.write(connection.reply(reply))
            if self._closing:
                break
        await writer.drain()
        if self._closing:
            log.info("SIP2 connection closed at shutdown", extra=context)
            return False
        return True

    async def _answer(
        self, session: Session, event: Request, context: dict[str, str]
    ) -> Message | None:
        """The reply to one request, logged with it in one line (secrets masked)."""
        if event.trailer.lenient:
            log.info("SIP2 checksum accepted leniently (%s)", event.trailer.lenient, extra=context)
        msg = event.message
        task = asyncio.current_task()
        assert task is not None
        self._answering.add(task)
        try:
            if self.answerer.quick(msg):
                reply = await self._quickly(session, msg)
            else:
                loop = asyncio.get_running_loop()
                reply = await loop.run_in_executor(self._pool, self.answerer.answer, session, msg)
        except Exception:
            log.exception("SIP2 request %s failed; connection closed", masked(msg), extra=context)
            return None
        finally:
            self._answering.discard(task)
        if session.terminal is not None:
            context["terminal"] = session.terminal.login
        if reply is None:
            log.warning(
                "SIP2 request %s: terminal no longer enabled, connection closed",
                masked(msg),
                extra=context,
            )
            return None
        log.info("SIP2 request %s; reply %s", masked(msg), masked(reply), extra=context)
        return reply

    async def _quickly(self, session: Session, msg: Message) -> Message | None:
        """A quick request's answer, with those of every other quick request that
        arrives in the same turn of the event loop: `_answer_quick_ones` answers them
        together once the loop has read what every terminal sent."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Message | None] = loop.create_future()
        if not self._quick:
            loop.call_soon(self._answer_quick_ones)
        self._quick.append((session, msg, future))
        return await future

    def _answer_quick_ones(self) -> None:
        waiting, self._quick = self._quick, []
        asked = [(session, msg) for session, msg, _ in waiting]
        if self.quick_lane.on_loop:
            try:
                answered = self._timed_each(asked)
            except Exception as error:  # not one request's: each of them fails with it
                self._quick_failed(waiting, error)
                return
            self._quick_answered(waiting, *answered)
            return
        done = asyncio.get_running_loop().run_in_executor(self._pool, self._timed_each, asked)
        done.add_done_callback(functools.partial(self._quick_answered_in_pool, waiting))

    def _timed_each(
        self, asked: list[tuple[Session, Message]]
    ) -> tuple[list[Message | Exception | None], float]:
        began = time.perf_counter()
        replies = self.answerer.answer_each(asked)
        return replies, time.perf_counter() - began

    def _quick_answered_in_pool(
        self,
        waiting: list[_Waiting],
        done: asyncio.Future[tuple[list[Message | Exception | None], float]],
    ) -> None:
        failure = RuntimeError("thread pool shut down") if done.cancelled() else done.exception()
        if failure is None:
            self._quick_answered(waiting, *done.result())
        else:
            self._quick_failed(waiting, failure)

    @staticmethod
    def _quick_failed(waiting: list[_Waiting], failure: BaseException) -> None:
        for *_, future in waiting:
            if not future.done():
                future.set_exception(failure)

    def _quick_answered(
        self, waiting: list[_Waiting], replies: list[Message | Exception | None], seconds: float
    ) -> None:
        for (*_, future), reply in zip(waiting, replies, strict=True):
            if future.done():  # its connection was closed meanwhile
                continue
            if isinstance(reply, Exception):
                future.set_exception(reply)
            else:
                future.set_result(reply)
        self._quick_took(seconds)

    def _quick_took(self, seconds: float) -> None:
        lane = self.quick_lane
        if not lane.took(seconds):
            return
        if lane.on_loop:
            log.info(
                "SIP2 quick answers back on the event loop (%.1f ms on average)",
                lane.average * 1000,
            )
        else:
            log.warning(
                "SIP2 quick answers slow (%.1f ms on average): answered in the thread pool "
                "until they are quick again",
                lane.average * 1000,
            )
