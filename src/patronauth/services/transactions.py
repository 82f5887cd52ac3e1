"""Whether a unit of work is open in this thread, so that hashing can refuse to run in one.

An argon2 computation takes tens of milliseconds by design. Inside a transaction it
would hold the transaction's locks for as long (on SQLite, the process's only write
lock), so use cases hash first and then open the unit of work that stores the result,
or read in one unit of work, hash outside it, and store in the next. The units of work
report when they open and close; the hasher asks before every argon2 computation.
"""

from __future__ import annotations

import threading

_local = threading.local()


class HashingInTransaction(RuntimeError):
    """A hash was asked for while a unit of work was open: a fault in the calling code."""


def open_units() -> int:
    """How many units of work this thread has open (nested ones count each)."""
    depth: int = getattr(_local, "depth", 0)
    return depth


def unit_opened() -> None:
    _local.depth = open_units() + 1


def unit_closed() -> None:
    _local.depth = max(0, open_units() - 1)


def refuse_inside_unit_of_work() -> None:
    """Raise `HashingInTransaction` when this thread has a unit of work open."""
    if open_units():
        raise HashingInTransaction("argon2 must not run while a unit of work is open")
