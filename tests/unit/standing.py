"""A patron's lending standing built from a few numbers, for the tables of what a
terminal is told (the domain's restrictions and the SIP2 flags that carry them)."""

from __future__ import annotations

from patronauth.domain.circulation import CirculationRules, Standing
from patronauth.domain.patrons import PatronStatus

RULES = CirculationRules(max_loans=3, max_holds=2, fines_block=1000, block_when_overdue=True)


def account(**fields: object) -> Standing:
    values: dict[str, object] = {
        "status": PatronStatus.ACTIVE,
        "loans": 0,
        "overdue": 0,
        "balance": 0,
        "holds": 0,
        "rules": RULES,
    }
    values.update(fields)
    return Standing(**values)  # type: ignore[arg-type]
