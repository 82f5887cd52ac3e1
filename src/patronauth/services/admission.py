"""Admission to the hasher under the lockout (S3): one place per failure the window
still allows, and a short wait when all of them are held by attempts in flight.

Many kiosks share one terminal account and a family may sign in on several devices
at once: those attempts are not refused because others are in flight. They wait
for one of them to settle; a success frees its place at once, a failure keeps it,
and the failure that fills the window starts the block the waiting attempts then
meet. However many arrive at once, no more attempts than the window allows reach
the hasher. An attempt that waits longer than `ADMISSION_WAIT_SECONDS` (the hashing
pool is saturated) is answered busy: nothing was checked and nothing counted.
"""

from __future__ import annotations

import time

from patronauth.domain.errors import Busy
from patronauth.domain.lockout import Admitted, Blocked, Full, LockoutRule
from patronauth.services.interfaces import Ports

# Short first, for the common case of a sign-in finishing in tens of milliseconds.
_PAUSES = (0.005, 0.01, 0.02, 0.04, 0.08)
_LONGEST_PAUSE = 0.1
ADMISSION_WAIT_SECONDS = 5.0


def admit(ports: Ports, key: str, rule: LockoutRule) -> Admitted | Blocked:
    """Admitted or blocked; raises `Busy` when no place frees within the wait."""
    waited = 0.0
    step = 0
    while True:
        admission = ports.counter.admit(key, ports.clock.now().timestamp(), rule)
        if not isinstance(admission, Full):
            return admission
        if waited >= ADMISSION_WAIT_SECONDS:
            raise Busy.of("service.busy")
        pause = _PAUSES[step] if step < len(_PAUSES) else _LONGEST_PAUSE
        step += 1
        time.sleep(pause)
        waited += pause
