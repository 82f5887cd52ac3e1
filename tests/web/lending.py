"""A small lending library for the tests of the account behind the login (web pages,
API, browser), made through the circulation use cases as the counter would."""

from __future__ import annotations

from dataclasses import dataclass

from patronauth.bootstrap import App
from patronauth.services.catalogue import add_item
from patronauth.services.holds import place_reservation
from patronauth.services.loans import checkout
from patronauth.services.lookup import find_patron
from tests.support import STAFF, register

DREAM = "Dream of the Red Chamber"
JOURNEY = "Journey to the West"
MARGIN = "Water Margin"
KINGDOMS = "Romance of the Three Kingdoms"


def patron_id(app: App, barcode: str) -> int:
    with app.ports.uow() as uow:
        found = find_patron(uow, app.ports.profiles, barcode)
    assert found is not None, barcode
    return found.patron.id


@dataclass(frozen=True)
class Shelf:
    """What `stock` made: the reader's two loans, a title on the shelf, a title out."""

    reader: int  # patron ids
    other: int
    renewable: int  # the reader's loan of DREAM
    reserved: int  # the reader's loan of JOURNEY, which the other reader has reserved
    others_loan: int  # the other reader's loan of KINGDOMS
    others_hold: int  # the other reader's reservation of JOURNEY
    on_shelf: int  # title ids: MARGIN, a copy on the shelf
    out: int  # KINGDOMS, its only copy on loan to the other reader


def stock(app: App, reader: str = "HKPL0001", other: str = "HKPL0002", prefix: str = "B") -> Shelf:
    """HKPL: `reader` (registered already) borrows two titles, one of which `other`
    (registered here) reserves; `other` borrows a third; a fourth stays on the shelf."""
    register(app, "hkpl", other, name="Lee Siu Ming", phone="6123 9876")
    books = [
        (DREAM, "Cao Xueqin"),
        (JOURNEY, "Wu Cheng'en"),
        (MARGIN, "Shi Nai'an"),
        (KINGDOMS, "Luo Guanzhong"),
    ]
    titles = []
    for number, (title, author) in enumerate(books, start=1):
        item = add_item(
            app.ports, "hkpl", barcode=f"{prefix}{number:04d}", title=title, author=author,
            home_library="CEN", staff=STAFF,
        )  # fmt: skip
        titles.append(item.title_id)

    def lend(who: str, number: int) -> int:
        lent = checkout(app.ports, who, f"{prefix}{number:04d}", actor=STAFF, channel="staff")
        return lent.loan.id

    renewable, reserved, others_loan = lend(reader, 1), lend(reader, 2), lend(other, 4)
    other_id = patron_id(app, other)
    hold = place_reservation(app.ports, other_id, titles[1], "KLN", channel="web")
    return Shelf(
        reader=patron_id(app, reader),
        other=other_id,
        renewable=renewable,
        reserved=reserved,
        others_loan=others_loan,
        others_hold=hold.id,
        on_shelf=titles[2],
        out=titles[3],
    )
