"""The composition root: builds the real adapters, or their twins, from Settings.

The front ends import nothing from the adapters: what they need of them (the settings,
the clock the demo turns, the registry file reader, logging and metrics set-up) is
re-exported here.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import urlsplit

from limits.storage import RedisStorage
from redis import Redis
from sqlalchemy import Engine

from patronauth.adapters import hash_gate as hash_gate
from patronauth.adapters import logs as logs
from patronauth.adapters import metrics as metrics
from patronauth.adapters.blocklists import shipped
from patronauth.adapters.clock import ManualClock as ManualClock
from patronauth.adapters.clock import SystemClock
from patronauth.adapters.config import HASH_GATE as HASH_GATE
from patronauth.adapters.config import ConfigError as ConfigError
from patronauth.adapters.config import Settings as Settings
from patronauth.adapters.config import sharing_cores as sharing_cores
from patronauth.adapters.counters.memory import MemoryAttemptCounter
from patronauth.adapters.counters.redis import RedisAttemptCounter
from patronauth.adapters.counters.resilient import ResilientAttemptCounter
from patronauth.adapters.counters.sql import SqlAttemptCounter
from patronauth.adapters.directory import LdapDirectory
from patronauth.adapters.factors import StaffFactors
from patronauth.adapters.hash_gate import HashGate
from patronauth.adapters.hash_pool import HashPool
from patronauth.adapters.hashing import Argon2Hasher, Argon2Parameters, Keyring
from patronauth.adapters.hashing import KeyringError as KeyringError
from patronauth.adapters.mail import MailNotifier, OutboxTransport, SmtpTransport, Transport
from patronauth.adapters.metrics import PrometheusTelemetry
from patronauth.adapters.profiles import ProfileStore
from patronauth.adapters.randomness import SystemRandomness
from patronauth.adapters.redis_health import RedisHealth
from patronauth.adapters.redis_health import client as redis_client
from patronauth.adapters.registry_csv import parse_rows as parse_rows
from patronauth.adapters.sessions import FallbackSessionStore, RedisSessionStore
from patronauth.adapters.signing_keys import SigningKeyFile
from patronauth.adapters.storage import migrate
from patronauth.adapters.storage.engine import make_engine
from patronauth.adapters.storage.sessions import SqlSessionStore
from patronauth.adapters.storage.uow import SqlUnitOfWork
from patronauth.adapters.throttle import LimitsThrottle
from patronauth.domain.sessions import SessionPolicy
from patronauth.services.authenticate import flush_refusal_counts
from patronauth.services.interfaces import AttemptCounter, Ports, SessionStore, StaffPorts


@dataclass(frozen=True)
class App:
    settings: Settings
    engine: Engine
    ports: Ports
    redis: Redis | None = None
    redis_health: tuple[RedisHealth, ...] = ()  # the components that fall back without it

    def close(self) -> None:
        with contextlib.suppress(Exception):  # a database already gone keeps its last counts
            flush_refusal_counts(self.ports)
        self.engine.dispose()
        if isinstance(self.ports.directory, LdapDirectory):
            self.ports.directory.close()
        if self.redis is not None:
            self.redis.close()


def ensure_pepper(settings: Settings) -> bool:
    """`patronauth init`: create the pepper key file (mode 0600) when none is configured."""
    if settings.pepper:
        return False
    return Keyring.create(settings.pepper_file)


def keys_file(settings: Settings) -> Path:
    return settings.oidc_keys_file or settings.var_dir / "oidc-keys.json"


def ensure_signing_keys(settings: Settings) -> bool:
    """`patronauth init`: the OpenID Connect signing keys (mode 0600), when none exist."""
    return SigningKeyFile.create(keys_file(settings), SystemClock().now())


def keyring(settings: Settings) -> Keyring:
    if settings.pepper:
        return Keyring.parse(settings.pepper.replace(";", "\n"), origin="PATRONAUTH_PEPPER")
    if not settings.pepper_file.exists():
        raise ConfigError(
            f"no pepper key at {settings.pepper_file}: run `patronauth init` first, "
            "or set PATRONAUTH_PEPPER_FILE or PATRONAUTH_PEPPER"
        )
    return Keyring.load(settings.pepper_file)


def _counter(
    settings: Settings, engine: Engine, redis: Redis | None, health: RedisHealth
) -> AttemptCounter:
    if settings.counter == "memory":
        return MemoryAttemptCounter()
    if settings.counter == "redis":
        assert redis is not None
        # The database counts while Redis is unreachable (SPEC 7).
        primary, fallback = RedisAttemptCounter(redis), SqlAttemptCounter(engine)
        return ResilientAttemptCounter(primary, fallback, health)
    return SqlAttemptCounter(engine)


def _throttle(settings: Settings, redis: Redis | None, health: RedisHealth) -> LimitsThrottle:
    per_source, overall = settings.throttle_per_source, settings.throttle_overall
    if redis is None or settings.redis_url is None:
        return LimitsThrottle("memory://", per_source=per_source, overall=overall)
    storage = RedisStorage(
        settings.redis_url, connection_pool=redis.connection_pool, wrap_exceptions=True
    )
    return LimitsThrottle(storage, per_source=per_source, overall=overall, health=health)


def _sessions(
    engine: Engine, redis: Redis | None, policy: SessionPolicy, health: RedisHealth
) -> SessionStore:
    """Sessions live in Redis when there is one (SPEC 5), in the database meanwhile."""
    if redis is None:
        return SqlSessionStore(engine)
    primary = RedisSessionStore(redis, policy)
    return FallbackSessionStore(primary, SqlSessionStore(engine), health)


def _transport(settings: Settings) -> Transport:
    if settings.smtp_url:
        return SmtpTransport(settings.smtp_url)
    return OutboxTransport(settings.outbox_dir)


def build(settings: Settings | None = None) -> App:
    settings = settings or Settings.from_env()
    engine = make_engine(
        settings.database_url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_timeout=settings.db_pool_timeout,
    )
    profiles = ProfileStore.load(settings.profiles_dir, settings.institutions)
    redis = None
    if settings.redis_url:
        redis = redis_client(settings.redis_url, timeout_seconds=settings.redis_timeout_ms / 1000)
    health = {
        component: RedisHealth(component, retry_seconds=settings.redis_retry_seconds)
        for component in ("counter", "throttle", "sessions")
    }
    policy = SessionPolicy(
        idle_seconds=settings.session_idle_seconds,
        absolute_seconds=settings.session_absolute_seconds,
    )
    ports = Ports(
        uow=lambda: SqlUnitOfWork(engine),
        reads=lambda: SqlUnitOfWork(engine, read_only=True),
        profiles=profiles,
        hasher=Argon2Hasher(
            keyring(settings),
            Argon2Parameters(
                settings.argon2_time_cost, settings.argon2_memory_kib, settings.argon2_parallelism
            ),
            HashPool(
                workers=settings.hash_workers,
                queue=settings.hash_queue,
                gate=HashGate(settings.hash_gate, settings.hash_workers)
                if settings.hash_gate
                else None,
            ),
        ),
        counter=_counter(settings, engine, redis, health["counter"]),
        throttle=_throttle(settings, redis, health["throttle"]),
        clock=SystemClock(),
        randomness=SystemRandomness(),
        notifier=MailNotifier(_transport(settings), settings.mail_from, profiles.all()),
        blocklists=shipped(),
        sessions=_sessions(engine, redis, policy, health["sessions"]),
        session_policy=policy,
        public_url=settings.public_url,
        telemetry=PrometheusTelemetry(),
        directory=LdapDirectory(settings.directory_secrets),
        signing_keys=SigningKeyFile(keys_file(settings)),
    )
    used = (settings.counter == "redis", redis is not None, redis is not None)
    watched = tuple(h for h, use in zip(health.values(), used, strict=True) if use)
    return App(settings, engine, ports, redis, watched)


def staff_ports(app: App) -> StaffPorts:
    """The console's ports: the WebAuthn relying party is the public address's host,
    and only an assertion made for that very origin verifies."""
    origin = urlsplit(app.settings.public_url)
    return StaffPorts(
        ports=app.ports,
        factors=StaffFactors(
            rp_id=origin.hostname or "localhost", origin=f"{origin.scheme}://{origin.netloc}"
        ),
        console_url=f"{app.settings.public_url}/staff",
    )


def upgrade_schema(app: App) -> None:
    migrate.upgrade(app.engine)


def with_ports(app: App, **changes: object) -> App:
    """The same app with some ports replaced (tests inject clocks and counting hashers)."""
    return replace(app, ports=replace(app.ports, **changes))  # type: ignore[arg-type]


def var_path(settings: Settings, *parts: str) -> Path:
    return settings.var_dir.joinpath(*parts)
