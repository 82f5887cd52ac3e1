"""argon2id over an HMAC-SHA256 pepper (S1), and keyed digests for defaults and PII (S9).

Stored forms:

    a2:<key id>:<argon2 encoded hash>      a secret, peppered then hashed
    hk:<key id>:<salt>:<base64 HMAC>       a keyed digest (defaults, phone, ID number)

The pepper keys live outside the database: a key file (one `<id> <hex>` per line,
the first one current) or an environment variable. Old keys stay for verifying.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import logging
import os
import secrets
import threading
from dataclasses import dataclass
from pathlib import Path

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from patronauth.adapters.hash_pool import HashPool
from patronauth.domain.errors import Busy
from patronauth.services.interfaces import Verification
from patronauth.services.transactions import refuse_inside_unit_of_work

log = logging.getLogger(__name__)

KEY_BYTES = 32


class KeyringError(Exception):
    pass


@dataclass(frozen=True)
class Keyring:
    current_id: str
    keys: dict[str, bytes]

    @property
    def current(self) -> bytes:
        return self.keys[self.current_id]

    def derive(self, purpose: str) -> bytes:
        """A key for another purpose (signing CSRF tokens), stable across processes."""
        message = b"derive\0" + purpose.encode("ascii")
        return hmac.new(self.current, message, hashlib.sha256).digest()

    @classmethod
    def parse(cls, text: str, *, origin: str) -> Keyring:
        keys: dict[str, bytes] = {}
        order = []
        for number, line in enumerate(text.splitlines(), 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            parts = line.split()
            if len(parts) != 2:
                raise KeyringError(f"{origin}:{number}: expected '<key id> <hex key>'")
            key_id, hex_key = parts
            try:
                key = bytes.fromhex(hex_key)
            except ValueError:
                raise KeyringError(f"{origin}:{number}: the key is not hexadecimal") from None
            if len(key) < 16 or ":" in key_id:
                raise KeyringError(f"{origin}:{number}: keys need 16+ bytes and an id without ':'")
            keys[key_id] = key
            order.append(key_id)
        if not order:
            raise KeyringError(f"{origin}: no key")
        return cls(order[0], keys)

    @classmethod
    def load(cls, path: Path) -> Keyring:
        mode = path.stat().st_mode & 0o777
        if mode & 0o077:
            raise KeyringError(f"{path}: the pepper key file must not be readable by others")
        return cls.parse(path.read_text(encoding="ascii"), origin=str(path))

    @staticmethod
    def create(path: Path) -> bool:
        """Write a new key file (mode 0600) unless one exists; True when created."""
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return False
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write("# PatronAuth pepper keys: '<id> <hex>' per line; the first is current.\n")
            handle.write(f"{secrets.token_hex(4)} {secrets.token_hex(KEY_BYTES)}\n")
        return True


@dataclass(frozen=True)
class Argon2Parameters:
    time_cost: int = 2
    memory_kib: int = 19456
    parallelism: int = 1


class KeyedDigester:
    """Keyed digests (`hk:` digests, S9) under one pepper key, and nothing else.

    A registry import sends one to its worker processes, so that they digest the
    rows they check (P3): it pickles as its key id and key, which cross the pool's
    pipe and are never written anywhere. Its repr leaves the key out.
    """

    __slots__ = ("_key", "_key_id", "_mac")

    def __init__(self, key_id: str, key: bytes) -> None:
        self._key_id = key_id
        self._key = key
        # Keyed once: each digest copies it instead of setting the key up again.
        self._mac = hmac.new(key, digestmod=hashlib.sha256)

    def __reduce__(self) -> tuple[type[KeyedDigester], tuple[str, bytes]]:
        return KeyedDigester, (self._key_id, self._key)

    def __repr__(self) -> str:
        return f"KeyedDigester(key_id={self._key_id!r})"

    def mac(self, salt: str, value: str) -> str:
        mac = self._mac.copy()
        mac.update(b"keyed\0" + salt.encode("utf-8") + b"\0" + value.encode("utf-8"))
        return base64.urlsafe_b64encode(mac.digest()).rstrip(b"=").decode("ascii")

    def keyed(self, value: str, *, salt: str) -> str:
        return f"hk:{self._key_id}:{salt}:{self.mac(salt, value)}"


class Argon2Hasher:
    def __init__(
        self,
        keyring: Keyring,
        parameters: Argon2Parameters | None = None,
        pool: HashPool | None = None,
    ) -> None:
        """`pool` bounds the argon2 computations (raising Busy when full); the keyed
        digests are HMACs, cheap enough to run unbounded."""
        p = parameters or Argon2Parameters()
        self._keyring = keyring
        self._pool = pool
        self._argon2 = PasswordHasher(
            time_cost=p.time_cost,
            memory_cost=p.memory_kib,
            parallelism=p.parallelism,
            hash_len=32,
            salt_len=16,
            type=Type.ID,
        )
        self._dummy = self._argon2.hash(secrets.token_bytes(32))
        self._computations = 0
        self._lock = threading.Lock()
        self._digesters = {
            key_id: KeyedDigester(key_id, key) for key_id, key in keyring.keys.items()
        }

    @property
    def computations(self) -> int:
        """argon2 computations so far (the constructor's own excluded)."""
        return self._computations

    def _count(self) -> None:
        with self._lock:
            self._computations += 1

    def _argon2_hash(self, data: bytes) -> str:
        if self._pool is not None:
            return self._pool.run(self._hash_now, data)
        return self._hash_now(data)

    def _hash_now(self, data: bytes) -> str:
        self._count()
        return self._argon2.hash(data)

    def _argon2_verify(self, encoded: str, data: bytes) -> None:
        if self._pool is not None:
            self._pool.run(self._verify_now, encoded, data)
        else:
            self._verify_now(encoded, data)

    def _verify_now(self, encoded: str, data: bytes) -> None:
        self._count()
        self._argon2.verify(encoded, data)

    def _pepper(self, key: bytes, secret: str) -> bytes:
        return hmac.new(key, b"secret\0" + secret.encode("utf-8"), hashlib.sha256).digest()

    def hash(self, secret: str) -> str:
        refuse_inside_unit_of_work()
        key_id = self._keyring.current_id
        encoded = self._argon2_hash(self._pepper(self._keyring.current, secret))
        return f"a2:{key_id}:{encoded}"

    def dummy_verify(self, secret: str) -> None:
        refuse_inside_unit_of_work()
        with contextlib.suppress(VerificationError):
            self._argon2_verify(self._dummy, self._pepper(self._keyring.current, secret))

    def verify(self, stored: str, secret: str) -> Verification:
        refuse_inside_unit_of_work()
        scheme, _, rest = stored.partition(":")
        key_id, _, body = rest.partition(":")
        key = self._keyring.keys.get(key_id)
        if key is None or scheme not in {"a2", "hk"}:
            log.error("a stored secret has an unknown scheme or pepper key id %r", key_id)
            self.dummy_verify(secret)
            return Verification(False)
        if scheme == "hk":
            ok = self._keyed_ok(key_id, body, secret)
            if not ok:
                # The digest has judged the guess wrong: a full pool may skip the dummy
                # argon2 (only there for equal timing), never turn the answer into busy,
                # which would leave the guess uncounted (issue 15).
                with contextlib.suppress(Busy):
                    self.dummy_verify(secret)
                return Verification(False)
            return Verification(True, rehashed=self.hash(secret))
        try:
            self._argon2_verify(body, self._pepper(key, secret))
        except VerifyMismatchError:
            return Verification(False)
        except (InvalidHashError, VerificationError):
            log.error("a stored argon2 hash could not be read")
            return Verification(False)
        outdated = key_id != self._keyring.current_id or self._argon2.check_needs_rehash(body)
        return Verification(True, rehashed=self.hash(secret) if outdated else None)

    def keyed(self, value: str, *, salt: str) -> str:
        return self._digesters[self._keyring.current_id].keyed(value, salt=salt)

    def digester(self) -> KeyedDigester:
        return self._digesters[self._keyring.current_id]

    def _keyed_ok(self, key_id: str, body: str, value: str) -> bool:
        salt, _, mac = body.partition(":")
        return hmac.compare_digest(self._digesters[key_id].mac(salt, value), mac)

    def keyed_matches(self, stored: str, value: str) -> bool:
        scheme, _, rest = stored.partition(":")
        key_id, _, body = rest.partition(":")
        key = self._keyring.keys.get(key_id)
        if scheme != "hk" or key is None:
            return False
        return self._keyed_ok(key_id, body, value)
