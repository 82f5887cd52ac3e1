"""A library with patrons on loan, over the test app, for whole calls."""

from __future__ import annotations

from dataclasses import dataclass

from patronauth.bootstrap import App
from patronauth.domain.circulation import Loan
from patronauth.services.catalogue import add_item
from patronauth.services.holds import place_reservation
from patronauth.services.interfaces import AuditEvent
from patronauth.services.loans import checkout
from patronauth.services.lookup import find_patron
from patronauth.telephone.keyed import keyed_form
from tests.support import STAFF, register

CARD = "HKPL0001"  # the phone's last four digits, 4567, are its default PIN (R4)
PIN = "4567"
KEYED_CARD = keyed_form(CARD)  # *08*11*16*120001: letters as star and two digits
OTHER = "HKPL0002"


@dataclass
class Library:
    app: App

    def patron_id(self, barcode: str) -> int:
        with self.app.ports.uow() as uow:
            found = find_patron(uow, self.app.ports.profiles, barcode)
        assert found is not None
        return found.patron.id

    def lend(self, barcode: str, items: int) -> list[Loan]:
        loans = []
        for n in range(1, items + 1):
            item = add_item(
                self.app.ports, "hkpl", barcode=f"{barcode}B{n}", title=f"Title {n}",
                staff=STAFF,
            )  # fmt: skip
            del item
            loans.append(
                checkout(
                    self.app.ports, barcode, f"{barcode}B{n}", actor=STAFF, channel="staff"
                ).loan
            )
        return loans

    def reserve_for_other(self, loan: Loan) -> None:
        place_reservation(
            self.app.ports, self.patron_id(OTHER), loan.title_id, "KLN", channel="web"
        )

    def loan(self, loan_id: int) -> Loan:
        with self.app.ports.uow() as uow:
            found = uow.loans.loan(loan_id)
        assert found is not None
        return found

    def audit(self, action: str) -> list[AuditEvent]:
        with self.app.ports.uow() as uow:
            return [e.event for e in uow.audit.recent(limit=5000) if e.event.action == action]

    def calls(self) -> list[tuple[str, str, str]]:
        from sqlalchemy import select

        from patronauth.adapters.storage import tables as t

        with self.app.engine.connect() as conn:
            rows = conn.execute(
                select(t.telephone_calls.c.call_id, t.telephone_calls.c.state,
                       t.telephone_calls.c.turn)
            ).all()  # fmt: skip
        return [(r.call_id, r.state, r.turn) for r in rows]


def stocked(app: App) -> Library:
    register(app, "hkpl", CARD, name="Chan Tai Man", phone="9123 4567")
    register(app, "hkpl", OTHER, name="Wong Siu Ming", phone="6123 9876")
    return Library(app)
