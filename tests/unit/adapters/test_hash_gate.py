"""The argon2id gate the web workers share: places held across threads and processes."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from patronauth.adapters.hash_gate import HashGate, prepare
from patronauth.adapters.hash_pool import HashPool

WAIT = 5.0  # seconds a test waits for something that must happen


def _gate(tmp_path: Path, places: int) -> HashGate:
    prepare(tmp_path / "gate", places)
    return HashGate(tmp_path / "gate", places)


def _take_in_thread(gate: HashGate) -> tuple[threading.Event, threading.Event, threading.Thread]:
    """A thread that takes a place, says so, and holds it until told to leave."""
    holding, leave = threading.Event(), threading.Event()

    def hold() -> None:
        with gate.place():
            holding.set()
            leave.wait(WAIT)

    thread = threading.Thread(target=hold)
    thread.start()
    return holding, leave, thread


def test_the_folder_and_its_places_are_the_owner_s_only(tmp_path: Path) -> None:
    prepare(tmp_path / "gate", 3)
    assert (tmp_path / "gate").stat().st_mode & 0o777 == 0o700
    names = sorted(p.name for p in (tmp_path / "gate").iterdir())
    assert names == ["place-0.lock", "place-1.lock", "place-2.lock"]
    assert all(p.stat().st_mode & 0o777 == 0o600 for p in (tmp_path / "gate").iterdir())


def test_a_thread_waits_while_every_place_is_held(tmp_path: Path) -> None:
    gate = _gate(tmp_path, 2)
    first, second = _take_in_thread(gate), _take_in_thread(gate)
    assert first[0].wait(WAIT)
    assert second[0].wait(WAIT)  # two places: both held at once
    third = _take_in_thread(gate)
    assert not third[0].wait(0.3)  # the third waits ...
    first[1].set()
    assert third[0].wait(WAIT)  # ... until one leaves
    for _, leave, thread in (first, second, third):
        leave.set()
        thread.join(WAIT)


def test_a_place_held_by_another_process_is_held_here_too(tmp_path: Path) -> None:
    gate = _gate(tmp_path, 1)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time\n"
            "from pathlib import Path\n"
            "from patronauth.adapters.hash_gate import HashGate\n"
            "with HashGate(Path(sys.argv[1]), 1).place():\n"
            "    print('holding', flush=True)\n"
            "    time.sleep(60)\n",
            str(tmp_path / "gate"),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "holding"
        waiting = _take_in_thread(gate)
        assert not waiting[0].wait(0.3)
        holder.kill()  # a process that dies holding a place lets it go
        holder.wait(WAIT)
        assert waiting[0].wait(WAIT)
        waiting[1].set()
        waiting[2].join(WAIT)
    finally:
        holder.kill()
        holder.communicate(timeout=WAIT)  # reaped, and its pipe closed


def test_the_pool_hashes_only_in_a_place_of_its_gate(tmp_path: Path) -> None:
    gate = _gate(tmp_path, 1)
    pool = HashPool(workers=2, queue=2, gate=gate)
    holding, leave, holder = _take_in_thread(gate)  # another worker's computation
    assert holding.wait(WAIT)
    done = threading.Event()
    worker = threading.Thread(target=lambda: pool.run(done.set))
    worker.start()
    assert not done.wait(0.3)  # a place of its own pool is free, the gate's is not
    leave.set()
    assert done.wait(WAIT)
    holder.join(WAIT)
    worker.join(WAIT)


def test_an_unusable_gate_leaves_hashing_ungated_and_says_so_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    pool = HashPool(workers=1, queue=0, gate=HashGate(tmp_path / "gone", 2))
    with caplog.at_level(logging.WARNING, logger="patronauth.adapters.hash_gate"):
        assert pool.run(lambda: 42) == 42
        assert pool.run(lambda: 43) == 43
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 1
    assert "hashing ungated" in warnings[0]


def test_a_gate_needs_a_place(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="at least one place"):
        HashGate(tmp_path, 0)


def test_serve_makes_the_gate_for_two_workers_or_goes_on_without_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from patronauth.adapters.config import HASH_GATE, Settings
    from patronauth.cli.serve import _hash_gate

    settings = Settings.from_env({"PATRONAUTH_VAR_DIR": str(tmp_path / "var")})
    monkeypatch.setenv(HASH_GATE, "")  # serve sets it: put back as it was after the test
    _hash_gate(settings, 1)  # one worker: no gate
    assert os.environ[HASH_GATE] == ""
    _hash_gate(settings, 2)
    assert os.environ[HASH_GATE] == str(tmp_path / "var" / "hash-gate")
    assert len(list((tmp_path / "var" / "hash-gate").iterdir())) == settings.hash_workers

    chosen = Settings.from_env(
        {"PATRONAUTH_VAR_DIR": str(tmp_path / "var"), HASH_GATE: str(tmp_path / "chosen")}
    )
    _hash_gate(chosen, 2)  # a folder set before serve starts is kept, and made
    assert os.environ[HASH_GATE] == str(tmp_path / "chosen")
    assert len(list((tmp_path / "chosen").iterdir())) == chosen.hash_workers

    (tmp_path / "file").write_text("not a folder")
    monkeypatch.setenv(HASH_GATE, str(tmp_path / "file" / "hash-gate"))  # set by hand
    blocked = Settings.from_env(
        {"PATRONAUTH_VAR_DIR": str(tmp_path / "file"), HASH_GATE: os.environ[HASH_GATE]}
    )
    with caplog.at_level(logging.WARNING, logger="patronauth.serve"):
        _hash_gate(blocked, 2)
    assert HASH_GATE not in os.environ  # the workers are told of no gate
    assert [r.getMessage().split(" (")[0] for r in caplog.records] == [
        f"argon2id gate not made in {tmp_path / 'file' / 'hash-gate'}"
    ]
