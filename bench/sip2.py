"""P4 and P5 (SPEC 6): the SIP2 server with 1,000 terminals connected at once.

The server is the real `python -m patronauth.sip2` on loopback, one process per core by
default (`--processes N`: N processes on one port with SO_REUSEPORT); the terminals
are asyncio connections of this process, each logged in with message 93 (at most four
logins at a time, as kiosks coming back after a restart would, so that the terminal
account's own lockout window is not filled by simultaneous right passwords). Then:

- P4 without PIN: a quarter of the connections send patron status requests (23, no
  AD), each one after the other, for a few seconds; every answer must say BL=Y and
  carry no CQ;
- P4 with PIN: the same from four connections per core with the patron's chosen PIN
  (one argon2id verification each, at the configured parameters); every answer must
  say CQ=Y; the rate is compared with the hash limit measured in the same run, and
  (in its details) with what two threads of argon2id alone verify between the two
  phases, the server idle with every connection open;
- P5: the resident set size of each server process with all connections open, the
  highest value sampled while they worked (P5 is a bound per process).

Each patron has `loans` open loans (one of them overdue when there are two or more, so
that its fine accrues), made straight in the store: the standing read by a 23 counts
them. The figures are also taken at a tenth of the size (100 terminals, a tenth of the
loans) so that the table shows how the cost grows.

The terminals run on uvloop (libuv), as wrk is C: the client shares the cores with the
server, and asyncio's own loop took 14% of a core at 1,800 answers/s against uvloop's
12%. The server keeps asyncio's loop: uvloop measured slower there.
"""

from __future__ import annotations

import asyncio
import io
import os
import resource
import secrets
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import uvloop

from bench import apps, hashing
from bench.report import Figure
from patronauth.adapters.config import Settings
from patronauth.adapters.registry_csv import parse_rows
from patronauth.bootstrap import App, build
from patronauth.domain.credentials import Channel, CredentialKind
from patronauth.domain.terminals import TerminalOptions
from patronauth.services.credentials import ChangeRequest, change_secret
from patronauth.services.lending import library_today
from patronauth.services.lookup import require_patron
from patronauth.services.registration import import_registry
from patronauth.services.terminals import add_terminal
from patronauth.sip2.messages import BLANK_DATE, Message, encode

CONNECTIONS = 1000
PATRONS = 100
LOANS = 10  # open loans per patron
PIN = "730519"  # the patrons' chosen PIN (meets HKPL's rule)
TERMINAL = "bench-kiosk"
TERMINAL_PASSWORD = "bench-kiosk-password"  # noqa: S105 (the bench terminal's)
P4_NO_PIN_RATE = 2000.0
P4_RATIO = 0.9
P5_MB = 200.0


@dataclass
class Phase:
    """One measured phase: answers counted, what they said, samples of the server RSS."""

    answers: int = 0
    seconds: float = 0.0
    outcomes: Counter[str] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.answers / self.seconds if self.seconds else 0.0

    def details(self) -> dict[str, object]:
        ordered = sorted(self.latencies)

        def p(q: float) -> float:
            return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 2)

        return {
            "answers": self.answers,
            "seconds": round(self.seconds, 2),
            "outcomes": dict(self.outcomes),
            "latency_ms": {"p50": p(0.5), "p99": p(0.99)} if ordered else {},
        }


def raise_file_limit(wanted: int) -> int:
    """The soft limit of open files, raised towards `wanted` (the server inherits it)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < wanted:
        target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        soft = target
    return soft


def rss_mb(pids: list[int]) -> float | None:
    """The largest VmRSS among `pids` (P5 is about one process)."""
    values = [v for v in (_rss_mb(pid) for pid in pids) if v is not None]
    return max(values) if values else None


def _rss_mb(pid: int) -> float | None:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return None


def set_up(app: App, count: int, threads: int, loans: int = 0) -> list[str]:
    """`count` HKPL patrons from a feed, each with PIN chosen through the change use case
    (so the stored hash has the configured argon2 parameters) and `loans` open loans, and
    the bench terminal."""
    prefix = f"S{secrets.token_hex(3).upper()}"
    barcodes = [f"{prefix}{n:05d}" for n in range(count)]
    lines = [b"barcode,phone"]
    lines += [f"{b},9{n:03d} {n:04d}".encode() for n, b in enumerate(barcodes, 1000)]
    feed = parse_rows(io.BytesIO(b"\n".join(lines) + b"\n"), "hkpl")
    report = import_registry(app.ports, "hkpl", feed, staff=apps.STAFF, workers=0)
    if report.created != count:
        raise RuntimeError(f"bench patrons not provisioned: {report.errors[:3]}")

    def choose(index: int) -> None:
        default = f"{index + 1000:04d}"
        change_secret(
            app.ports,
            ChangeRequest(barcodes[index], default, PIN, PIN, Channel.SIP2, CredentialKind.PIN),
        )

    apps.each(choose, range(count), threads)
    lend(app, barcodes, loans)
    # P4's messages without a PIN are those of a kiosk allowed to serve patrons without
    # one: a terminal that is not gets a shorter answer (docs/terminals.md).
    add_terminal(
        app.ports,
        login=TERMINAL,
        institution="hkpl",
        password=TERMINAL_PASSWORD,
        options=TerminalOptions(allow_pinless=True),
        staff=apps.STAFF,
    )
    return barcodes


def lend(app: App, barcodes: list[str], loans: int) -> None:
    """`loans` copies on loan to each patron, straight in the store (the lending rules
    would stop at the profile's limit): due in ten days, but one of them overdue by
    three days when there are two or more."""
    if not loans:
        return
    ports = app.ports
    today = library_today(ports, ports.profiles.get("hkpl"))
    with ports.uow() as uow:
        title = uow.catalogue.add_title("hkpl", "Bench title", "Bench author", None)
        for n, barcode in enumerate(barcodes):
            patron = require_patron(uow, ports.profiles, barcode).patron
            for copy in range(loans):
                item = uow.catalogue.add_item(title.id, "hkpl", f"L{n:04d}{copy:03d}", "CEN")
                overdue = copy == 0 and loans > 1
                due = today + timedelta(days=-3 if overdue else 10)
                uow.loans.add_loan(patron.id, item, today - timedelta(days=20), due)
        uow.commit()


def _frame(code: str, fixed: dict[str, str], *fields: tuple[str, str]) -> bytes:
    return encode(Message(code, fixed, fields), sequence="0")


def status_frames(barcodes: list[str], pin: str | None) -> list[bytes]:
    fixed = {"language": "001", "date": BLANK_DATE}
    return [
        _frame("23", fixed, ("AO", "hkpl"), ("AA", b), *((("AD", pin),) if pin else ()))
        for b in barcodes
    ]


class Server:
    """`python -m patronauth.sip2` on a free loopback port, handed its listening socket
    as `patronauth serve` does (and stopping by itself should the bench die)."""

    def __init__(self, env: dict[str, str], log: Path, processes: int = 1) -> None:
        self._listening = socket.create_server(
            ("127.0.0.1", 0), backlog=1024, reuse_port=processes > 1
        )
        self.port = int(self._listening.getsockname()[1])
        self.log = log
        self.processes = processes
        fd = self._listening.fileno()
        with log.open("wb") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "patronauth.sip2", "--fd", str(fd),
                 "--port", str(self.port), "--parent", str(os.getpid()),
                 *(("--processes", str(processes)) if processes > 1 else ())],
                env={**os.environ, **env},
                stdout=out,
                stderr=subprocess.STDOUT,
                pass_fds=(fd,),
            )  # fmt: skip

    def wait_ready(self, seconds: float = 60.0) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the SIP2 server exited with {self.process.returncode}")
            if self.log.read_text(errors="replace").count("SIP2 server at") >= self.processes:
                return
            time.sleep(0.1)
        raise RuntimeError("the SIP2 server did not start")

    def pids(self) -> list[int]:
        """The processes that serve: the one started, or the ones it started."""
        if self.processes == 1:
            return [self.process.pid]
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

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._listening.close()


Terminal = tuple[asyncio.StreamReader, asyncio.StreamWriter]


async def _connect(port: int, count: int) -> list[Terminal]:
    terminals: list[Terminal] = []
    for start in range(0, count, 100):
        batch = min(100, count - start)
        terminals += await asyncio.gather(
            *(asyncio.open_connection("127.0.0.1", port) for _ in range(batch))
        )
    return terminals


async def _login(terminals: list[Terminal]) -> Counter[str]:
    frame = _frame(
        "93", {"uid_algorithm": "0", "pwd_algorithm": "0"}, ("CN", TERMINAL),
        ("CO", TERMINAL_PASSWORD), ("CP", "bench"),
    )  # fmt: skip
    gate = asyncio.Semaphore(4)
    outcomes: Counter[str] = Counter()

    async def one(terminal: Terminal) -> None:
        reader, writer = terminal
        async with gate:
            writer.write(frame)
            reply = await reader.readuntil(b"\r")
        outcomes["logged in" if reply.startswith(b"941") else reply[:3].decode()] += 1

    await asyncio.gather(*(one(t) for t in terminals))
    return outcomes


async def _phase(
    terminals: list[Terminal], frames: list[bytes], expect: bytes, absent: bytes | None,
    seconds: float, pids: list[int], rss: list[float],
) -> Phase:  # fmt: skip
    """`terminals` send in turn for `seconds`; answers that come later (to requests sent
    before the end) are read but not counted."""
    phase = Phase()
    stop = time.perf_counter() + seconds

    async def work(index: int, terminal: Terminal) -> None:
        reader, writer = terminal
        n = index
        while time.perf_counter() < stop:
            began = time.perf_counter()
            writer.write(frames[n % len(frames)])
            reply = await reader.readuntil(b"\r")
            n += len(terminals)
            if time.perf_counter() > stop:
                break
            phase.latencies.append(time.perf_counter() - began)
            phase.answers += 1
            right = expect in reply and (absent is None or absent not in reply)
            phase.outcomes["as expected" if right else reply[:60].decode()] += 1

    async def sample() -> None:
        while time.perf_counter() < stop:
            value = rss_mb(pids)
            if value is not None:
                rss.append(value)
            await asyncio.sleep(0.25)

    began = time.perf_counter()
    await asyncio.gather(sample(), *(work(i, t) for i, t in enumerate(terminals)))
    phase.seconds = min(time.perf_counter(), stop) - began
    return phase


async def _measure(
    port: int, pids: list[int], barcodes: list[str], connections: int, seconds: float,
    alone: Callable[[], float],
) -> tuple[Counter[str], Phase, Phase, list[float], float, list[float | None], float]:  # fmt: skip
    terminals = await _connect(port, connections)
    began = time.perf_counter()
    logins = await _login(terminals)
    login_seconds = time.perf_counter() - began
    rss: list[float] = []
    value = rss_mb(pids)
    if value is not None:
        rss.append(value)
    # Every terminal stays connected; the busiest take turns asking. Without PIN a
    # quarter of them ask at once; with PIN, four per core (what keeps the hashing pool
    # busy without queueing hundreds of requests behind it).
    no_pin = await _phase(
        terminals[: max(1, len(terminals) // 4)], status_frames(barcodes, None), b"|BLY|",
        b"|CQ", seconds, pids, rss,
    )  # fmt: skip
    # What two threads of argon2id alone verify now, the server idle with every
    # connection open: the host's speed moves within a run (`hashing.alone_just_before`).
    alone_rate = await asyncio.to_thread(alone)
    with_pin = await _phase(
        terminals[: 4 * (os.cpu_count() or 1)], status_frames(barcodes, PIN), b"|BLY|CQY|",
        None, seconds, pids, rss,
    )  # fmt: skip
    each = [_rss_mb(pid) for pid in pids]  # every connection still open
    for _, writer in terminals:
        writer.close()
    return logins, no_pin, with_pin, rss, login_seconds, each, alone_rate


def sip2_figures(
    label: str, database_url: str, var: Path, redis_url: str | None, *, limit: float,
    threads: int, seconds: float, connections: int = CONNECTIONS, loans: int = LOANS,
    processes: int = 1,
) -> list[Figure]:  # fmt: skip
    """P4 (both rates) and P5 over one database; `limit` is the hash limit of this run.
    The database must be fresh (the bench terminal is added to it)."""
    full = (connections, loans) == (CONNECTIONS, LOANS)
    name = label if full else f"{label}_{connections}c_{loans}l"
    env = apps.environment(database_url, var / f"{name}-sip2", redis_url)
    # One client address and one terminal account serve every connection here: the
    # per-source throttles are lifted (the lockout of each card and terminal is not).
    env |= {
        "PATRONAUTH_THROTTLE_PER_SOURCE": "1000000 per minute",
        "PATRONAUTH_THROTTLE_OVERALL": "1000000 per second",
        "PATRONAUTH_SIP2_IDLE_SECONDS": "600",
    }
    setup = build(Settings.from_env(env))
    try:
        barcodes = set_up(setup, PATRONS, threads, loans)
    finally:
        setup.close()
    hasher = setup.ports.hasher  # argon2id at the configured cost, needing no store
    files = raise_file_limit(connections * 2 + 256)
    server = Server(env, var / f"{name}-sip2.log", processes)
    try:
        server.wait_ready()
        pids = server.pids()
        logins, no_pin, with_pin, rss, login_seconds, each, alone = uvloop.run(
            _measure(
                server.port, pids, barcodes, connections, seconds,
                lambda: hashing.alone_just_before(hasher, threads=threads),
            )
        )  # fmt: skip
    finally:
        server.stop()
    connected = logins["logged in"]
    all_in = connected == connections
    store = f"{label}, {connections:,} connections, {loans} loans each, {processes} processes"
    common = {"connections": connections, "logged_in": dict(logins), "open_files_limit": files,
              "login_seconds": round(login_seconds, 1), "loans_per_patron": loans,
              "processes": processes}  # fmt: skip
    peak = max(rss) if rss else None
    pin_ratio = with_pin.rate / limit
    return [
        Figure(
            f"p4_{name}_status_no_pin",
            f"P4 patron status without PIN ({store})",
            no_pin.rate,
            "answers/s",
            target=f">= {P4_NO_PIN_RATE:,.0f}/s",
            ratio=no_pin.rate / P4_NO_PIN_RATE,
            ratio_means="rate / target (higher is better; >= 1 meets it)",
            met=all_in and no_pin.rate >= P4_NO_PIN_RATE and _all_expected(no_pin),
            method="`python -m patronauth.sip2` on loopback with every connection logged in; "
            "a quarter of them send 23 Patron Status without AD for a fixed time, each "
            f"waiting for its answer (BL=Y, no CQ); {PATRONS} patrons; the client (this "
            "process) shares the cores",
            details={**common, **no_pin.details()},
        ),
        Figure(
            f"p4_{name}_status_pin",
            f"P4 patron status with PIN ({store})",
            with_pin.rate,
            "answers/s",
            target=f">= {P4_RATIO:.2f} x hash limit",
            ratio=pin_ratio,
            ratio_means="rate / hash limit (higher is better)",
            met=all_in and pin_ratio >= P4_RATIO and _all_expected(with_pin),
            method="as above with the patron's chosen PIN in AD, from four connections per "
            "core: one argon2id verification per answer at the configured parameters, "
            "counted on the sip2 channel (CQ=Y)",
            details={
                **common,
                **with_pin.details(),
                **hashing.over_alone(with_pin.rate, alone),
            },
        ),
        Figure(
            f"p5_{name}_rss",
            f"P5 SIP2 server RSS per process ({store})",
            peak,
            "MB",
            target=f"< {P5_MB:g} MB",
            ratio=P5_MB / peak if peak else None,
            ratio_means="target / value (higher is better; >= 1 meets it)",
            met=all_in and peak is not None and peak < P5_MB,
            method="VmRSS of each server process, sampled every 0.25 s while all connections "
            "were open and working (the highest sample of any one process)",
            details={
                "samples": len(rss),
                "first_mb": round(rss[0], 1) if rss else None,
                "processes": processes,
                "each_mb_at_end": [round(v, 1) if v is not None else None for v in each],
            },
        ),
    ]


def _all_expected(phase: Phase) -> bool:
    return phase.answers > 0 and phase.outcomes["as expected"] == phase.answers
