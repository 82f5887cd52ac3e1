"""Refusals carry stable reason codes; the front ends render them.

The exception tree, drawn once::

    Refused                      a rule said no; carries one or more Violations
     +-- InvalidInput            the input itself is malformed (identifier, date, secret)
     +-- PolicyRefused           a new secret breaks the credential policy
     +-- NotFound                the patron, identifier or credential does not exist
     +-- Conflict                the request clashes with the stored state
     +-- Busy                    no room for the work now (service.busy); try again soon
          +-- Unavailable        an outside service that decides is down or slow (the
                                 campus directory: directory.unavailable)
    ProfileError                 a profile file is not a valid rule set (deployment error)
    StorageUnavailable           the database did not answer (in time); nothing was written
    SchemaMissing                the database has no PatronAuth tables (deployment error)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Self

Param = str | int


@dataclass(frozen=True)
class Violation:
    """One broken rule: a stable code and the values its message needs."""

    code: str
    params: Mapping[str, Param] = field(default_factory=dict)
    field: str | None = None  # the form or request field at fault, when there is one

    def __str__(self) -> str:
        return self.code

    def on(self, name: str) -> Violation:
        """The same violation, about the field `name`."""
        return Violation(self.code, self.params, name)


class Refused(Exception):
    def __init__(self, *violations: Violation) -> None:
        if not violations:
            raise ValueError("a refusal needs at least one violation")
        self.violations: tuple[Violation, ...] = tuple(violations)
        super().__init__(", ".join(v.code for v in violations))

    @property
    def code(self) -> str:
        return self.violations[0].code

    @classmethod
    def of(cls, code: str, **params: Param) -> Self:
        return cls(Violation(code, params))


class InvalidInput(Refused):
    pass


class PolicyRefused(Refused):
    @classmethod
    def from_list(cls, violations: Sequence[Violation]) -> PolicyRefused:
        return cls(*violations)


class NotFound(Refused):
    pass


class Conflict(Refused):
    pass


class Busy(Refused):
    """The service is at capacity (the hashing pool's queue is full): nothing was done
    and nothing was counted; the same request may be sent again after `retry_after`."""

    retry_after = 1


class Unavailable(Busy):
    """A service that must decide (the campus directory) did not answer in time: nothing
    was decided and no attempt was counted; nothing falls back to a local secret."""

    retry_after = 30


class ProfileError(Exception):
    """A profile file breaks the profile schema; the message names the path."""


class StorageUnavailable(Exception):
    """The database did not answer, or not in time (down, restarting, every connection
    busy, locked): the unit of work rolled back, so nothing was written. Front ends
    answer "try again shortly" (503). `detail` is the first line of the driver's
    report, for operators only."""

    def __init__(self, detail: str = "") -> None:
        super().__init__(detail or "storage unavailable")
        self.detail = detail


class SchemaMissing(Exception):
    """The database answers but holds no PatronAuth tables: `patronauth init` first."""
