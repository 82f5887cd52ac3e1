"""The telephone line's calls (docs/telephone.md): their state on the server, by the
platform's call id, and the card number a caller keyed.

A call's state is whatever the line stores (an opaque string here). Every request of a
call after the first carries the one-time token the previous answer gave; taking it is
atomic, so a replayed or doubled request is refused before anything is done or counted.
A call idle for `CALL_IDLE` has ended; ended calls keep an empty row for `KEEP_ENDED`,
so that a request replayed after the end is refused too, and are purged after that.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from patronauth.domain.errors import Refused
from patronauth.services.interfaces import Ports, StoredCall
from patronauth.services.lookup import find_patron

CALL_IDLE = timedelta(minutes=15)
KEEP_ENDED = timedelta(hours=24)


def open_call(
    ports: Ports, platform: str, call_id: str, institution: str, state: str, turn: str
) -> bool:
    """A new call; False when the call id is known already (its first request replayed)."""
    now = ports.clock.now()
    with ports.uow() as uow:
        uow.calls.purge(now - KEEP_ENDED)
        added = uow.calls.add(platform, call_id, institution, state, turn, now)
        uow.commit()
    return added


def take_turn(
    ports: Ports, platform: str, call_id: str, institution: str, turn: str, new_turn: str
) -> StoredCall | None:
    """The call this request continues, its token moved on to `new_turn`; None for an
    unknown, ended or idle call, one of another library, or a token already used (a
    replay)."""
    now = ports.clock.now()
    with ports.uow() as uow:
        call = uow.calls.get(platform, call_id)
        if call is None or call.ended_at is not None or call.institution != institution:
            return None
        if not turn:
            return None
        if call.updated_at < now - CALL_IDLE:
            uow.calls.save(platform, call_id, "", now, ended=True)
            uow.commit()
            return None
        if not uow.calls.take_turn(platform, call_id, turn, new_turn):
            return None
        uow.commit()
    return call


def save_call(ports: Ports, platform: str, call_id: str, state: str, *, ended: bool) -> None:
    with ports.uow() as uow:
        uow.calls.save(platform, call_id, state, ports.clock.now(), ended=ended)
        uow.commit()


def hang_up(ports: Ports, platform: str, call_id: str) -> bool:
    """The platform says the caller hung up: the call's state is dropped. False when the
    call was unknown or had ended already."""
    with ports.uow() as uow:
        call = uow.calls.get(platform, call_id)
        if call is None or call.ended_at is not None:
            return False
        uow.calls.save(platform, call_id, "", ports.clock.now(), ended=True)
        uow.commit()
    return True


def keyed_card(ports: Ports, institution: str, cards: Sequence[str]) -> str:
    """Which of the card numbers some keys stand for is meant: the only one a patron of
    `institution` has; else the last (the keys as keyed), which then fails to sign in
    exactly as an unknown card does."""
    if len(cards) == 1:
        return cards[0]
    known = []
    with ports.read() as uow:
        for card in cards:
            try:
                found = find_patron(uow, ports.profiles, card, institution=institution)
            except Refused:
                continue
            if found is not None:
                known.append(card)
    return known[0] if len(known) == 1 else cards[-1]
