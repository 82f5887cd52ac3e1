"""The catalogue (R28): copies added at the counter, titles searched by patrons."""

from __future__ import annotations

from patronauth.domain.circulation import Item, ItemStatus, Title, request_text
from patronauth.domain.errors import InvalidInput
from patronauth.domain.identifiers import base_form
from patronauth.services.audit import Trail
from patronauth.services.holds import fill_next
from patronauth.services.interfaces import Ports
from patronauth.services.lending import library_today

MAX_SEARCH = 20


def add_item(
    ports: Ports,
    institution: str,
    *,
    barcode: str,
    title: str,
    author: str = "",
    isbn: str | None = None,
    home_library: str | None = None,
    staff: str,
) -> Item:
    profile = ports.profiles.get(institution)
    today = library_today(ports, profile)
    title_text = request_text("title", title, required=True)
    author_text = request_text("author", author)
    code = base_form(barcode)
    library = home_library or next(iter(profile.libraries), "")
    if library not in profile.libraries:
        raise InvalidInput.of("item.unknown_library", known=", ".join(profile.libraries))
    isbn_text = base_form(isbn) if isbn else None
    with ports.uow() as uow:
        trail = Trail(uow, ports.clock, staff, "staff")
        found = uow.catalogue.find_title(institution, title_text, author_text, isbn_text)
        record = found or uow.catalogue.add_title(institution, title_text, author_text, isbn_text)
        added = uow.catalogue.add_item(record.id, institution, code, library)
        # A new copy of a title with reservations waiting goes to the first of them.
        uow.catalogue.lock_title(record.id)
        fill_next(uow, added, today, profile)
        item = uow.catalogue.item(added.id) or added
        trail.record(
            "item.add", None, {"item": code, "title_id": str(record.id)}, institution=institution
        )
        uow.commit()
    return item


def search(ports: Ports, institution: str, text: str) -> list[tuple[Title, int, int]]:
    """Titles matching `text`, with their copies and how many are on the shelf."""
    query = " ".join(text.split())
    if not query:
        return []
    request_text("title", query)
    with ports.read() as uow:
        found = uow.catalogue.search_titles(institution, query, limit=MAX_SEARCH)
        results = []
        for title in found:
            copies = uow.catalogue.items_of_title(title.id)
            shelf = sum(1 for c in copies if c.status is ItemStatus.AVAILABLE)
            results.append((title, len(copies), shelf))
    return results
