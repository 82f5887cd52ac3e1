"""The lending cycle end to end over storage: lend, renew, reserve, return, fine, pay."""

from __future__ import annotations

from datetime import date

import pytest

from patronauth.bootstrap import App
from patronauth.domain.circulation import HoldStatus, ItemStatus
from patronauth.domain.errors import NotFound, Refused
from patronauth.services.catalogue import add_item
from patronauth.services.fines import pay_fines
from patronauth.services.holds import place_reservation
from patronauth.services.loans import checkin, checkout, renew_loan
from patronauth.services.lookup import find_patron
from patronauth.services.record import record
from tests.support import STAFF, clock_of, register


def patron_id(app: App, barcode: str) -> int:
    with app.ports.uow() as uow:
        found = find_patron(uow, app.ports.profiles, barcode)
    assert found is not None
    return found.patron.id


@pytest.fixture
def library(app: App) -> App:
    register(app, "hkpl", "HKPL0001", phone="9123 4567")
    register(app, "hkpl", "HKPL0002", phone="6123 9876")
    add_item(app.ports, "hkpl", barcode="B0001", title="Dream of the Red Chamber",
                  author="Cao Xueqin", staff=STAFF)  # fmt: skip
    return app


def test_lend_renew_reserve_return_and_fine(library: App) -> None:
    app = library
    first, second = patron_id(app, "HKPL0001"), patron_id(app, "HKPL0002")
    lent = checkout(app.ports, "HKPL0001", "B0001", actor=STAFF, channel="staff")
    assert lent.loan.due_on == date(2026, 12, 15)  # 21 days at HKPL
    assert renew_loan(app.ports, first, lent.loan.id, channel="web") == date(2027, 1, 5)
    hold = place_reservation(app.ports, second, lent.title.id, "KLN", channel="web")
    assert hold.status is HoldStatus.WAITING
    with pytest.raises(Refused) as refused:
        renew_loan(app.ports, first, lent.loan.id, channel="web")
    assert refused.value.code == "renewal.reserved"
    with pytest.raises(NotFound):
        renew_loan(app.ports, second, lent.loan.id, channel="web")  # not theirs
    clock_of(app).advance(52 * 86400)  # ten days late: 2027-01-15 in Hong Kong
    back = checkin(app.ports, "B0001", "hkpl", actor=STAFF, channel="staff")
    assert back.fine == 10 * 150
    assert back.hold_for == second
    assert back.item.status is ItemStatus.HELD
    mine = record(app.ports, second)
    assert [h.hold.status for h in mine.holds] == [HoldStatus.READY]
    assert record(app.ports, first).standing.balance == 1500
    assert pay_fines(app.ports, "HKPL0001", 1000, staff=STAFF) == 500
