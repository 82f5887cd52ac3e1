"""Sign-ins driven by `wrk`, a load generator written in C: one wrk process (one thread)
per node, each keeping `connections` attempts in flight (`signins.lua` says what each
request is). A Python client sharing the two cores would spend on itself much of what
the servers are being measured on."""

from __future__ import annotations

import shutil
import subprocess
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SCRIPT = Path(__file__).with_name("signins.lua")


@dataclass
class WrkRun:
    connections: int = 0  # per node
    elapsed: float = 0.0
    statuses: Counter[int] = field(default_factory=Counter)
    errors: int = 0
    p50_ms: list[float] = field(default_factory=list)  # one per node
    p99_ms: list[float] = field(default_factory=list)

    def rate(self, status: int) -> float:
        return self.statuses[status] / self.elapsed if self.elapsed else 0.0

    @property
    def p99(self) -> float:
        """The worst node's p99, in seconds."""
        return max(self.p99_ms, default=0.0) / 1000

    def details(self) -> dict[str, Any]:
        return {
            "seconds": round(self.elapsed, 2),
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
            "socket_errors": self.errors,
            "latency_p50_ms_per_node": [round(v, 2) for v in self.p50_ms],
            "latency_p99_ms_per_node": [round(v, 2) for v in self.p99_ms],
            "client": f"wrk, one process per node, {self.connections} connections each",
        }


def wrk() -> str:
    found = shutil.which("wrk")
    if found is None:
        raise RuntimeError(
            "the bench drives HTTP with wrk (Debian package wrk): apt-get install wrk"
        )
    return found


def drive(
    urls: list[str], cards: list[str], secret: str, *, seconds: float, connections: int
) -> WrkRun:
    """Attempts with `secret` on `cards` against every node at once for `seconds`."""
    env = {"WRK_CARDS": ",".join(cards), "WRK_SECRET": secret, "PATH": "/usr/bin:/bin"}
    command = [wrk(), "-t1", f"-c{connections}", f"-d{seconds:g}s", "--timeout", "30s"]
    running = [
        subprocess.Popen(
            [*command, "-s", str(SCRIPT), url],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for url in urls
    ]
    run = WrkRun(connections)
    for process in running:
        out, _ = process.communicate(timeout=seconds + 60)
        if process.returncode != 0:
            raise RuntimeError(f"wrk failed ({process.returncode}): {out[-500:]}")
        _read(out, run)
    return run


def _read(out: str, run: WrkRun) -> None:
    seen = False
    for line in out.splitlines():
        words = line.split()
        if len(words) == 3 and words[0] == "status":
            run.statuses[int(words[1])] += int(words[2])
        elif len(words) != 2:
            continue
        elif words[0] == "elapsed_us":
            run.elapsed = max(run.elapsed, int(words[1]) / 1e6)
            seen = True
        elif words[0] == "errors":
            run.errors += int(words[1])
        elif words[0] == "latency_p50_us":
            run.p50_ms.append(int(words[1]) / 1000)
        elif words[0] == "latency_p99_us":
            run.p99_ms.append(int(words[1]) / 1000)
    if not seen:
        raise RuntimeError(f"wrk printed no summary: {out[-500:]}")
