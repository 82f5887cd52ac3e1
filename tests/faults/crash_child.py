"""`python -m tests.faults.crash_child BARCODE`: a process that changes BARCODE's
password (the current and the new one on standard input, one a line), has the new hash
stored in the open transaction, says so on standard output and waits to be killed
before the commit. Configured by the `PATRONAUTH_*` environment."""

from __future__ import annotations

import sys
import time
from dataclasses import replace
from typing import Any

from patronauth.adapters.config import Settings
from patronauth.adapters.storage.repositories import SqlCredentials
from patronauth.adapters.storage.uow import SqlUnitOfWork
from patronauth.bootstrap import build
from patronauth.domain.credentials import Channel
from patronauth.services.credentials import ChangeRequest, change_secret

STORED = "stored, not committed"


class StoreThenWait(SqlCredentials):
    def replace_secret(self, *args: Any, **kwargs: Any) -> bool:
        stored = super().replace_secret(*args, **kwargs)
        print(STORED, flush=True)
        time.sleep(120)  # the parent kills this process here
        return stored


class WaitingUnitOfWork(SqlUnitOfWork):
    def __enter__(self) -> WaitingUnitOfWork:
        super().__enter__()
        self.credentials = StoreThenWait(self._conn)
        return self


def main(barcode: str) -> None:
    current, new = (sys.stdin.readline().rstrip("\n") for _ in range(2))
    app = build(Settings.from_env())
    ports = replace(app.ports, uow=lambda: WaitingUnitOfWork(app.engine))
    change_secret(ports, ChangeRequest(barcode, current, new, new, Channel.WEB))
    print("committed", flush=True)  # never reached


if __name__ == "__main__":
    main(sys.argv[1])
