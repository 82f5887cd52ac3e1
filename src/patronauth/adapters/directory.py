"""The campus directory over LDAP (R20), with ldap3 (pure Python: no system libraries).

Two pools per directory configuration: connections bound as the service account for
searches, and connections used for the patrons' binds. Any connection that fails is
dropped together with its pool (after a directory restart every pooled connection is
stale), and the work is tried once more on a fresh connection; when no URL answers
within the timeouts the directory is `Unavailable`.
"""

from __future__ import annotations

import contextlib
import logging
import math
import ssl
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from ldap3 import NONE, SIMPLE, SUBTREE, SYNC, Connection, Server, Tls
from ldap3.core.exceptions import LDAPException
from ldap3.utils.conv import escape_filter_chars

from patronauth.domain.errors import Unavailable
from patronauth.domain.profile import DirectoryConfig, DirectoryTls
from patronauth.services.interfaces import DirectoryEntry, DirectoryLookup, DirectoryProbe

log = logging.getLogger(__name__)

MAX_VALUE_LENGTH = 256  # a UID, a barcode or a student number; far longer is no such thing
MAX_DN_LENGTH = 1024
MAX_PIN_LENGTH = 256
_SUCCESS, _SIZE_LIMIT, _NO_SUCH_OBJECT, _INVALID_CREDENTIALS = 0, 4, 32, 49
_DIRECTORY_DOWN = {51, 52}  # busy, unavailable: the directory could not decide

T = TypeVar("T")


class _Down(Exception):
    """A connection failed or the directory could not answer: try elsewhere or give up."""


# What ldap3 raises when the bytes that come back are not an LDAP message (its decoder's
# KeyError or IndexError, a ValueError): a server that is not a directory, or a
# connection to a dead local port that the kernel joined to itself and that reads back
# what it sent. The directory is then as good as down, never a crash of the sign-in.
_NOT_LDAP = (LookupError, ValueError, TypeError)
_FAILED = (LDAPException, OSError, *_NOT_LDAP)


@dataclass
class _Pools:
    searching: list[Connection] = field(default_factory=list)
    binding: list[Connection] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


class _VerifiedTls(Tls):  # type: ignore[misc]
    """TLS with the standard library's own certificate and host name checks.

    ldap3 turns the context's host name check off and calls `ssl.match_hostname`
    instead, which Python 3.12 removed (and 3.11 deprecates); here the context checks
    the certificate against the host of the URL, IP addresses included.
    """

    def wrap_socket(self, connection: Connection, do_handshake: bool = False) -> None:
        context = ssl.create_default_context(cafile=self.ca_certs_file)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        connection.socket = context.wrap_socket(
            connection.socket,
            server_hostname=connection.server.host,
            do_handshake_on_connect=do_handshake,
        )


class LdapDirectory:
    def __init__(self, environment: Mapping[str, str]) -> None:
        """`environment` holds the service accounts' passwords, by variable name."""
        self._environment = dict(environment)
        self._pools: dict[tuple[object, ...], _Pools] = {}
        self._lock = threading.Lock()

    # -- the port ---------------------------------------------------------------------

    def find(
        self, config: DirectoryConfig, lookup: DirectoryLookup, value: str
    ) -> DirectoryEntry | None:
        if not value or len(value) > MAX_VALUE_LENGTH:
            return None
        template = _template(config, lookup)
        if template is None:
            return None
        query = template.replace("{value}", escape_filter_chars(value))
        if config.enabled_filter:
            query = f"(&{query}{config.enabled_filter})"
        return self._run(config, searching=True, work=lambda c: self._search(config, c, query))

    def bind(self, config: DirectoryConfig, dn: str, pin: str) -> bool:
        if not pin or not dn or len(pin) > MAX_PIN_LENGTH or len(dn) > MAX_DN_LENGTH:
            return False
        return self._run(config, searching=False, work=lambda c: _bind_as(c, dn, pin))

    def probe(self, config: DirectoryConfig, uid: str | None) -> list[DirectoryProbe]:
        probes = []
        for url in config.urls:
            started = time.monotonic()
            try:
                connection = self._open(config, url, service=True)
            except _Down as error:
                probes.append(DirectoryProbe(url, False, str(error), _since(started)))
                continue
            try:
                if uid:
                    query = config.uid_filter.replace("{value}", escape_filter_chars(uid))
                    entry = self._search(config, connection, query)
                    detail = f"found {entry.dn}" if entry else "no entry for this UID"
                else:
                    connection.search(config.base_dn, "(objectClass=*)", "BASE", attributes=[])
                    if connection.result["result"] != _SUCCESS:
                        raise _Down(f"base DN: {connection.result['description']}")
                    detail = "bound and searched the base DN"
                probes.append(DirectoryProbe(url, True, detail, _since(started)))
            except (_Down, *_FAILED) as error:
                probes.append(DirectoryProbe(url, False, str(error), _since(started)))
            finally:
                _close(connection)
        return probes

    def close(self) -> None:
        with self._lock:
            pools, self._pools = list(self._pools.values()), {}
        for pool in pools:
            _drain(pool)

    # -- plumbing ---------------------------------------------------------------------

    def _run(
        self, config: DirectoryConfig, *, searching: bool, work: Callable[[Connection], T]
    ) -> T:
        if not config.configured:
            raise Unavailable.of("directory.unavailable")
        pools = self._pools_of(config)
        for _ in range(2):
            connection = self._take(config, pools, searching=searching)
            try:
                result = work(connection)
            except (_Down, *_FAILED) as error:
                # Every pooled connection is suspect after one fails: rebuild them all.
                log.warning("directory connection failed (%s); rebuilding the pool", error)
                _close(connection)
                _drain(pools)
                continue
            self._give(config, pools, connection, searching=searching)
            return result
        raise Unavailable.of("directory.unavailable")

    def _pools_of(self, config: DirectoryConfig) -> _Pools:
        # Categories that share a server and service account share its connections.
        key = (config.urls, config.tls, config.ca_file, config.bind_dn, config.bind_password_env)
        with self._lock:
            pools = self._pools.get(key)
            if pools is None:
                pools = self._pools[key] = _Pools()
            return pools

    def _take(self, config: DirectoryConfig, pools: _Pools, *, searching: bool) -> Connection:
        with pools.lock:
            idle = pools.searching if searching else pools.binding
            if idle:
                return idle.pop()
        failures = []
        for url in config.urls:
            try:
                return self._open(config, url, service=searching)
            except _Down as error:
                failures.append(f"{url}: {error}")
        log.error("directory unreachable: %s", "; ".join(failures))
        raise Unavailable.of("directory.unavailable")

    def _give(
        self, config: DirectoryConfig, pools: _Pools, connection: Connection, *, searching: bool
    ) -> None:
        with pools.lock:
            idle = pools.searching if searching else pools.binding
            if len(idle) < config.pool_size:
                idle.append(connection)
                return
        _close(connection)

    def _open(self, config: DirectoryConfig, url: str, *, service: bool) -> Connection:
        """Connect, secure (StartTLS or LDAPS), and bind as the service account if asked."""
        tls = _VerifiedTls(validate=ssl.CERT_REQUIRED, ca_certs_file=config.ca_file)
        server = Server(
            url,
            use_ssl=config.tls is DirectoryTls.LDAPS,
            tls=tls,
            connect_timeout=config.connect_timeout,
            get_info=NONE,
        )
        connection = Connection(
            server,
            authentication=SIMPLE,
            client_strategy=SYNC,
            receive_timeout=max(1, math.ceil(config.timeout)),  # whole seconds only
            raise_exceptions=False,
            auto_referrals=False,
            read_only=True,
            check_names=False,
        )
        try:
            connection.open()
            if config.tls is DirectoryTls.STARTTLS and not connection.start_tls():
                raise _Down(f"StartTLS refused: {connection.result.get('description')}")
            if service:
                password = self._environment.get(config.bind_password_env)
                if not password:
                    raise _Down(f"{config.bind_password_env} is not set")
                if not _bind_as(connection, config.bind_dn, password):
                    raise _Down("the service account's bind was refused")
        except _FAILED as error:
            _close(connection)
            said = f"{type(error).__name__}: {error}"
            down = f"not an LDAP answer ({said})" if isinstance(error, _NOT_LDAP) else said
            raise _Down(down) from None
        except _Down:
            _close(connection)
            raise
        return connection

    @staticmethod
    def _search(
        config: DirectoryConfig, connection: Connection, query: str
    ) -> DirectoryEntry | None:
        connection.search(
            config.base_dn,
            query,
            SUBTREE,
            attributes=[config.link_attribute],
            size_limit=2,
            time_limit=max(1, int(config.timeout)),
        )
        code = connection.result["result"]
        if code not in {_SUCCESS, _SIZE_LIMIT, _NO_SUCH_OBJECT}:
            raise _Down(f"search refused: {connection.result['description']}")
        entries = [r for r in connection.response or [] if r.get("type") == "searchResEntry"]
        if len(entries) != 1:
            return None  # nobody, or ambiguous: either way no one to bind as
        return DirectoryEntry(entries[0]["dn"], _first(entries[0]["attributes"], config))


def _template(config: DirectoryConfig, lookup: DirectoryLookup) -> str | None:
    if lookup is DirectoryLookup.UID:
        return config.uid_filter
    if lookup is DirectoryLookup.BARCODE:
        return config.barcode_filter
    return f"({config.link_attribute}={{value}})"


def _first(attributes: Mapping[str, Any], config: DirectoryConfig) -> str | None:
    for name, value in attributes.items():
        if name.lower() == config.link_attribute.lower():
            values = value if isinstance(value, list) else [value]
            return str(values[0]) if values else None
    return None


def _bind_as(connection: Connection, dn: str, password: str) -> bool:
    connection.user, connection.password = dn, password
    try:
        ok = bool(connection.bind())
    finally:
        # The PIN is not kept with a pooled connection (ldap3 keeps the last request).
        connection.password = None
        connection.request = None
    code = connection.result["result"] if connection.result else None
    if ok:
        return True
    if code in _DIRECTORY_DOWN or code is None:
        description = connection.result.get("description") if connection.result else None
        raise _Down(f"bind not decided: {description or 'no answer'}")
    return False


def _close(connection: Connection) -> None:
    # A broken connection is being thrown away: whatever its unbind says does not matter.
    with contextlib.suppress(Exception):
        connection.unbind()
    # ldap3 keeps the socket of a connection that failed to open, and never closes it.
    sock = getattr(connection, "socket", None)
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.close()


def _drain(pools: _Pools) -> None:
    with pools.lock:
        stale = pools.searching + pools.binding
        pools.searching, pools.binding = [], []
    for connection in stale:
        _close(connection)


def _since(started: float) -> float:
    return round(time.monotonic() - started, 3)
