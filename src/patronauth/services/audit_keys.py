"""What the audit trail keeps of the identifier an attempt typed (S8, S9).

A card field may hold anything: a mistyped barcode, or a password typed in the wrong
box. When the text identifies a patron the trail keeps its lookup key; otherwise
(and for a refusal made before any patron is read) only a keyed digest, which
`patronauth audit IDENT` and My Account find again by computing the same digest.
"""

from __future__ import annotations

from patronauth.services.interfaces import Ports

AUDIT_SALT = "audit"


def digest(ports: Ports, key: str) -> str:
    """The keyed digest (HMAC under the current pepper key) the trail keeps of `key`."""
    return ports.hasher.keyed(key, salt=AUDIT_SALT)


def kept(ports: Ports, key: str | None, *, identifies: bool) -> str | None:
    """The identifier column of an audit record: the key when it names a patron."""
    if key is None or identifies:
        return key
    return digest(ports, key)


def searched(ports: Ports, key: str) -> tuple[str, str]:
    """Both forms an identifier's records may be found under."""
    return key, digest(ports, key)
