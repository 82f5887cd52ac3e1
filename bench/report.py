"""The results table: figures with a value, a target and a ratio, as text and as JSON."""

from __future__ import annotations

import json
import os
import platform
import statistics
import sys
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any


@dataclass
class Figure:
    """One measured figure.

    `ratio` is defined per figure (see `ratio_means`); `met` says whether the target
    is reached. Figures without a target (the hash limit, for instance) have neither.
    """

    id: str
    name: str
    value: float | None
    unit: str
    target: str = ""
    ratio: float | None = None
    ratio_means: str = ""
    met: bool | None = None
    method: str = ""
    details: dict[str, Any] = field(default_factory=dict)

    def value_text(self) -> str:
        if self.value is None:
            return "not measured"
        if abs(self.value) >= 100:
            return f"{self.value:,.0f} {self.unit}"
        if abs(self.value) >= 10:
            return f"{self.value:.1f} {self.unit}"
        return f"{self.value:.3g} {self.unit}"


def _cell(text: str, width: int) -> str:
    return text.ljust(width)


def table(figures: list[Figure]) -> str:
    rows = [("figure", "value", "target", "ratio", "met")]
    for f in figures:
        rows.append(
            (
                f.name,
                f.value_text(),
                f.target or "-",
                f"{f.ratio:.2f}" if f.ratio is not None else "-",
                "-" if f.met is None else ("yes" if f.met else "NO"),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(_cell(text, w) for text, w in zip(row, widths, strict=True)) for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _cpu_times() -> tuple[int, int] | None:
    try:
        with open("/proc/stat", encoding="ascii") as stat:
            fields = [int(v) for v in stat.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return sum(fields), idle


def background_busy(seconds: float = 1.0) -> float | None:
    """The share of all cores other processes kept busy while this one waited."""
    before = _cpu_times()
    time.sleep(seconds)
    after = _cpu_times()
    if before is None or after is None or after[0] == before[0]:
        return None
    return 1 - (after[1] - before[1]) / (after[0] - before[0])


def machine() -> dict[str, Any]:
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:
        cores = os.cpu_count() or 1
    return {
        "cores": cores,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        **_hardware(),
        "python_work_ms": python_work_ms(),
        "load_average_at_start": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
    }


CPUINFO_FIELDS = {  # /proc/cpuinfo's name: the result's
    "model name": "cpu_model",
    "cpu family": "cpu_family",
    "model": "cpu_model_number",
    "cpu MHz": "cpu_mhz",
}


def _hardware(
    proc: Path = Path("/proc"), cpus: Path = Path("/sys/devices/system/cpu")
) -> dict[str, Any]:
    """The CPU (model, family, clock, last-level cache) and the memory, as Linux reports
    them (nothing elsewhere). Hosts that name themselves alike ("AMD EPYC") differ in
    family and cache, and the runs of `bench/results/` come from several."""
    found: dict[str, Any] = {}
    try:
        for line in (proc / "cpuinfo").read_text().splitlines():
            name, _, value = (part.strip() for part in line.partition(":"))
            if not name and found:
                break  # the first processor's block is enough
            key = CPUINFO_FIELDS.get(name)
            if key is not None and key not in found:
                found[key] = value
        for line in (proc / "meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                found["memory_gib"] = round(int(line.split()[1]) / 1024**2, 1)
                break
        cache = cpus / "cpu0" / "cache"
        for index in sorted(cache.glob("index*")):
            if (index / "level").read_text().strip() == "3":
                found["l3_cache"] = (index / "size").read_text().strip()
    except OSError:
        pass
    return found


def _python_work() -> int:
    """A fixed piece of the interpreter's everyday work: strings, a dictionary, integers."""
    table = {f"card{n:07d}": n for n in range(60_000)}
    return sum(value for key, value in table.items() if key.endswith("7"))


def python_work_ms(runs: int = 5) -> float:
    """How long this host's interpreter takes over `_python_work`, the median of `runs`:
    what a sign-in's Python costs besides its hash moves with it, where `t_verify`
    says what the hash costs (hosts differ in the two by different factors)."""
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        _python_work()
        times.append(time.perf_counter() - started)
    return round(statistics.median(times) * 1000, 2)


def write_json(path: Path, figures: list[Figure], notes: list[str], info: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": info,
        "figures": [asdict(f) for f in figures],
        "notes": notes,
    }
    path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
