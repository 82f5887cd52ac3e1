"""Places for argon2id shared by the processes of one machine (`serve --workers N`).

Each web worker keeps a hashing pool of one place per core, because the workers share
one listening socket and one of them may be handed every connection of a burst. But
with every worker's places busy at once, N times as many 19 MiB computations as there
are cores compete for the cores and their caches, and each takes longer: on two cores,
four at once ran 93 verifications a second where two ran 108. The gate keeps the
machine at one computation per core whichever workers run them.

A place is a lock file in a folder the processes share (`serve` makes it under the var
folder and names it in PATRONAUTH_HASH_GATE). Taking a place is an exclusive `flock`
on one of the files; the kernel lets it go when the file is closed, and when its
process ends however it ends, so a worker that dies holding a place does not keep it.
The gate only orders work: should its folder be unusable, hashing goes on ungated.
"""

from __future__ import annotations

import fcntl
import itertools
import logging
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

log = logging.getLogger(__name__)


def prepare(folder: Path, places: int) -> None:
    """Make the folder and its `places` lock files (readable by the owner only)."""
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    for place in range(places):
        fd = os.open(folder / f"place-{place}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        os.close(fd)


class HashGate:
    """At most `places` holders at once among every process that uses `folder`."""

    def __init__(self, folder: Path, places: int) -> None:
        if places < 1:
            raise ValueError("a hash gate needs at least one place")
        self.folder = folder
        self.places = places
        self._paths = [os.fspath(folder / f"place-{place}.lock") for place in range(places)]
        # Where each take starts looking, turning: the threads and processes that wait
        # wait on different places, so whichever is let go first has one waiting on it.
        self._turn = itertools.count(os.getpid())
        self._turn_lock = threading.Lock()
        self._warned = False

    @contextmanager
    def place(self) -> Iterator[None]:
        """Hold one place for the length of the block (wait for one if all are held)."""
        fd = self._take()
        try:
            yield
        finally:
            if fd is not None:
                os.close(fd)  # closing lets the lock go

    def _take(self) -> int | None:
        with self._turn_lock:
            first = next(self._turn) % self.places
        order = [self._paths[(first + step) % self.places] for step in range(self.places)]
        try:
            for path in order:
                fd = _locked(path, fcntl.LOCK_EX | fcntl.LOCK_NB)
                if fd is not None:
                    return fd
            return _locked(order[0], fcntl.LOCK_EX)  # waits without holding the GIL
        except OSError as error:
            if not self._warned:
                self._warned = True
                log.warning("argon2id gate %s unusable (%s): hashing ungated", self.folder, error)
            return None


def _locked(path: str, flags: int) -> int | None:
    """An open descriptor of `path` holding the lock, or None when `LOCK_NB` found it
    held; on any failure the descriptor is closed."""
    fd = os.open(path, os.O_RDWR)
    try:
        fcntl.flock(fd, flags)
    except BlockingIOError:
        os.close(fd)
        return None
    except BaseException:
        os.close(fd)
        raise
    return fd
