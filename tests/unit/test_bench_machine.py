"""The machine a bench run describes: hosts that call themselves alike ("AMD EPYC")
are told apart by CPU family, clock and last-level cache, and by how quickly the
interpreter does a fixed piece of work."""

from __future__ import annotations

from pathlib import Path

from bench.report import _hardware, machine

CPUINFO = """processor\t: 0
vendor_id\t: AuthenticAMD
cpu family\t: 25
model\t\t: 1
model name\t: AMD EPYC
cpu MHz\t\t: 2445.426

processor\t: 1
vendor_id\t: AuthenticAMD
cpu family\t: 26
model\t\t: 2
model name\t: Another CPU
cpu MHz\t\t: 3000.000
"""


def _host(tmp_path: Path) -> tuple[Path, Path]:
    proc = tmp_path / "proc"
    proc.mkdir()
    (proc / "cpuinfo").write_text(CPUINFO)
    (proc / "meminfo").write_text("MemTotal:       24641536 kB\nMemFree: 1 kB\n")
    cpus = tmp_path / "cpu"
    for index, (level, size) in enumerate([("1", "32K"), ("2", "512K"), ("3", "32768K")]):
        folder = cpus / "cpu0" / "cache" / f"index{index}"
        folder.mkdir(parents=True)
        (folder / "level").write_text(f"{level}\n")
        (folder / "size").write_text(f"{size}\n")
    return proc, cpus


def test_the_first_processor_is_described_with_its_family_clock_and_cache(
    tmp_path: Path,
) -> None:
    proc, cpus = _host(tmp_path)
    assert _hardware(proc, cpus) == {
        "cpu_model": "AMD EPYC",
        "cpu_family": "25",
        "cpu_model_number": "1",
        "cpu_mhz": "2445.426",
        "memory_gib": 23.5,
        "l3_cache": "32768K",
    }


def test_a_host_without_those_files_is_described_without_them(tmp_path: Path) -> None:
    assert _hardware(tmp_path / "none", tmp_path / "none") == {}


def test_the_interpreter_speed_is_part_of_the_description() -> None:
    described = machine()
    assert described["python_work_ms"] > 0
    assert described["cores"] >= 1
