"""The OpenID Connect signing keys: RSA keys in a JSON file beside the pepper (mode
0600), made and read with Authlib's JOSE library (joserfc), never by hand.

The newest key signs. A rotation adds a key and keeps the old ones published in the
JWKS until every token they signed has expired. The file also holds the salt of the
pairwise subject identifiers, which must never change. A running server re-reads the
file when it changes, so `patronauth oidc rotate-key` reaches it without a restart.
"""

from __future__ import annotations

import json
import os
import secrets
import threading
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from joserfc.jwk import RSAKey

ALGORITHM = "RS256"
KEY_BITS = 2048


def _new_key(now: datetime) -> dict[str, Any]:
    kid = f"{now:%Y%m%d}-{secrets.token_hex(4)}"
    key = RSAKey.generate_key(
        KEY_BITS, parameters={"kid": kid, "use": "sig", "alg": ALGORITHM}, private=True
    )
    return {"jwk": key.as_dict(private=True), "created_at": now.isoformat(), "until": None}


def _write(path: Path, data: dict[str, Any], *, exclusive: bool) -> bool:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".new")
    flags = os.O_WRONLY | os.O_CREAT | (os.O_EXCL if exclusive else os.O_TRUNC)
    target = path if exclusive else temporary
    try:
        fd = os.open(target, flags, 0o600)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=1)
    if not exclusive:
        os.replace(temporary, path)
    return True


class SigningKeyFile:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._seen: float | None = None
        self._data: dict[str, Any] = {}
        # Imported keys by kid, for the file version seen: importing an RSA private key
        # checks it (tens of milliseconds), too much to do for every token signed.
        self._imported: dict[str, RSAKey] = {}

    @staticmethod
    def create(path: Path, now: datetime) -> bool:
        """`patronauth init`: a first key and the pairwise salt, unless a file exists."""
        data = {"pairwise_salt": secrets.token_hex(32), "keys": [_new_key(now)]}
        return _write(path, data, exclusive=True)

    def _load(self) -> dict[str, Any]:
        with self._lock:
            try:
                stamp = self.path.stat().st_mtime_ns
            except FileNotFoundError:
                raise LookupError(
                    f"no signing keys at {self.path}: run `patronauth init` first"
                ) from None
            if stamp != self._seen:
                self._data = json.loads(self.path.read_text("utf-8"))
                self._seen = stamp
                self._imported = {}
            return self._data

    def _key(self, jwk: dict[str, Any]) -> RSAKey:
        kid = str(jwk["kid"])
        key = self._imported.get(kid)
        if key is None:
            imported = RSAKey.import_key(jwk)
            assert isinstance(imported, RSAKey)
            key = self._imported.setdefault(kid, imported)
        return key

    @property
    def pairwise_salt(self) -> bytes:
        return bytes.fromhex(self._load()["pairwise_salt"])

    def signing_key(self) -> RSAKey:
        return self._key(self._load()["keys"][-1]["jwk"])

    def published(self, now: datetime) -> list[dict[str, Any]]:
        """The public halves of the keys whose tokens may still be presented."""
        found = []
        for entry in self._load()["keys"]:
            until = entry["until"]
            if until is not None and datetime.fromisoformat(until) <= now:
                continue
            key = self._key(entry["jwk"])
            found.append({**key.as_dict(private=False), "use": "sig", "alg": ALGORITHM})
        return found

    def rotate(self, now: datetime, *, keep_seconds: int) -> str:
        """A new signing key; the current one stays published for `keep_seconds`, and
        keys past their time are dropped from the file."""
        data = dict(self._load())
        keys = []
        for entry in data["keys"]:
            until = entry["until"]
            if until is None:
                entry = {**entry, "until": (now + timedelta(seconds=keep_seconds)).isoformat()}
            elif datetime.fromisoformat(until) <= now:
                continue
            keys.append(entry)
        fresh = _new_key(now)
        keys.append(fresh)
        data["keys"] = keys
        _write(self.path, data, exclusive=False)
        return str(fresh["jwk"]["kid"])
