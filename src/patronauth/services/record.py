"""The patron's own record (R8, R28): loans with their due dates and fines so far,
reservations with their place in the queue, fines and payments, and the standing."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date

from patronauth.domain.circulation import (
    Fine,
    Hold,
    Loan,
    Payment,
    Standing,
    Title,
    loan_fine,
    queue_position,
)
from patronauth.domain.patrons import Patron
from patronauth.domain.profile import Profile
from patronauth.services.holds import expire_all_holds
from patronauth.services.interfaces import Ports
from patronauth.services.lending import calendar_in, library_today, patron_in, standing_in


@dataclass(frozen=True)
class LoanView:
    loan: Loan
    title: Title
    item_barcode: str
    overdue: bool
    fine_so_far: int
    renewals_left: int


@dataclass(frozen=True)
class HoldView:
    hold: Hold
    title: Title
    position: int | None  # in the queue, while waiting


@dataclass(frozen=True)
class Record:
    patron: Patron
    profile: Profile
    today: date
    loans: Sequence[LoanView]
    holds: Sequence[HoldView]
    fines: Sequence[Fine]
    payments: Sequence[Payment]
    standing: Standing
    fine_titles: Mapping[int, Title] = field(default_factory=dict)  # fine id -> its loan's title

    @property
    def accruing(self) -> int:
        return sum(v.fine_so_far for v in self.loans)


def record(ports: Ports, patron_id: int) -> Record:
    """Loans with their due dates, reservations with their place in the queue, fines."""
    with ports.read() as uow:
        patron = patron_in(uow, patron_id)
        profile = ports.profiles.get(patron.institution)
        today = library_today(ports, profile)
    expire_all_holds(ports, profile, today)
    with ports.uow() as uow:
        rules = profile.rules(patron.category)
        calendar = calendar_in(uow, patron.institution)
        titles: dict[int, Title] = {}

        def title_of(title_id: int) -> Title:
            if title_id not in titles:
                found = uow.catalogue.title(title_id)
                assert found is not None
                titles[title_id] = found
            return titles[title_id]

        loans = []
        for loan, title, barcode in uow.loans.open_loans_listed(patron.id):
            titles[title.id] = title
            loans.append(
                LoanView(
                    loan=loan,
                    title=title,
                    item_barcode=barcode,
                    overdue=loan.overdue(today),
                    fine_so_far=loan_fine(loan, today, rules, calendar),
                    renewals_left=max(0, rules.max_renewals - loan.renewals),
                )
            )
        holds = [
            HoldView(h, title_of(h.title_id), queue_position(h, uow.holds.hold_queue(h.title_id)))
            for h in uow.holds.holds_of_patron(patron.id)
        ]
        fines = uow.fines.fines_of(patron.id)
        fine_titles = {}
        for fine in fines:
            fined = uow.loans.loan(fine.loan_id) if fine.loan_id is not None else None
            if fined is not None:
                fine_titles[fine.id] = title_of(fined.title_id)
        return Record(
            patron=patron,
            profile=profile,
            today=today,
            loans=loans,
            holds=holds,
            fines=fines,
            payments=uow.fines.payments_of(patron.id),
            standing=standing_in(uow, patron, profile, today),
            fine_titles=fine_titles,
        )


def reservation(ports: Ports, patron_id: int, hold_id: int) -> HoldView | None:
    """One of the patron's own reservations, in any state, with its title; another
    patron's is not found."""
    with ports.read() as uow:
        hold = uow.holds.hold(hold_id)
        if hold is None or hold.patron_id != patron_id:
            return None
        title = uow.catalogue.title(hold.title_id)
        if title is None:
            return None
        return HoldView(hold, title, queue_position(hold, uow.holds.hold_queue(hold.title_id)))
