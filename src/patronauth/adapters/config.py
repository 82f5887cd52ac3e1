"""Configuration from the environment (`PATRONAUTH_*`), read once, failing loudly."""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path


class ConfigError(Exception):
    pass


def _int(env: Mapping[str, str], name: str, default: int, *, minimum: int = 1) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, not {raw!r}") from None
    if value < minimum:
        raise ConfigError(f"{name} must be at least {minimum}")
    return value


def _choice(env: Mapping[str, str], name: str, choices: tuple[str, ...]) -> str:
    raw = (env.get(name) or choices[0]).strip().lower()
    if raw not in choices:
        raise ConfigError(f"{name} must be {' or '.join(choices)}, not {raw!r}")
    return raw


HASH_WORKERS = "PATRONAUTH_HASH_WORKERS"
HASH_GATE = "PATRONAUTH_HASH_GATE"
REFUSALS_PER_SECOND = 1500


def hash_share(cores: int, processes: int) -> int:
    """One process's share of the cores for argon2id, when `processes` share them."""
    return max(1, cores // max(1, processes))


def sharing_cores(env: Mapping[str, str], processes: int) -> dict[str, str]:
    """The environment of each of `processes` processes started together on this
    machine, each with a listening socket of its own (the SIP2 server's). Unless
    PATRONAUTH_HASH_WORKERS is set, each one's hashing pool gets its share of the cores
    (at least one), so that together they run as many argon2id computations at once as
    there are cores: one pool per core in each would run `processes` times as many, and
    each 19 MiB pass then competes with the others for the cores and their caches."""
    shared = dict(env)
    if processes > 1 and not shared.get(HASH_WORKERS):
        shared[HASH_WORKERS] = str(hash_share(os.cpu_count() or 1, processes))
    return shared


# Where the staff console answers unless PATRONAUTH_STAFF_NETWORKS says otherwise:
# loopback and the private ranges, never the open Internet.
DEFAULT_STAFF_NETWORKS = (
    "127.0.0.0/8",
    "::1/128",
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "fc00::/7",
)


def _networks(raw: str | None) -> tuple[str, ...]:
    if raw is None or not raw.strip():
        return DEFAULT_STAFF_NETWORKS
    networks = []
    for item in raw.split(","):
        if not item.strip():
            continue
        try:
            networks.append(str(ipaddress.ip_network(item.strip(), strict=False)))
        except ValueError:
            raise ConfigError(
                f"PATRONAUTH_STAFF_NETWORKS: {item.strip()!r} is not a network"
            ) from None
    return tuple(networks)


@dataclass(frozen=True)
class Settings:
    database_url: str
    var_dir: Path
    pepper_file: Path
    pepper: str | None
    redis_url: str | None
    counter: str
    argon2_time_cost: int
    argon2_memory_kib: int
    argon2_parallelism: int
    profiles_dir: Path | None
    institutions: tuple[str, ...] | None
    smtp_url: str | None
    mail_from: str
    outbox_dir: Path
    throttle_per_source: str
    throttle_overall: str
    staff: str
    db_pool_size: int
    session_idle_seconds: int
    session_absolute_seconds: int
    public_url: str
    cookie_secure: bool
    trusted_proxies: frozenset[str]
    db_max_overflow: int = 10
    db_pool_timeout: int = 10
    redis_timeout_ms: int = 1000
    redis_retry_seconds: int = 5
    hash_workers: int = 2
    hash_queue: int = 64
    # P2: refusals that cost no hash (blocked cards, throttled sources) answered per
    # second by one process's API; beyond it they wait their turn. 0: no pace.
    refusals_per_second: int = REFUSALS_PER_SECOND
    hash_gate: Path | None = None  # set by `serve` for its web workers (adapters/hash_gate)
    log_format: str = "text"
    shutdown_seconds: int = 30
    sip2_tls_cert: Path | None = None
    sip2_tls_key: Path | None = None
    sip2_idle_seconds: int = 300
    sip2_threads: int = 8
    sip2_processes: int = 1  # SIP2 server processes sharing the port (SO_REUSEPORT)
    staff_from_os: bool = False  # `staff` is the operating-system user, not PATRONAUTH_STAFF
    staff_networks: tuple[str, ...] = DEFAULT_STAFF_NETWORKS
    twilio_auth_token: str | None = field(default=None, repr=False)  # TwiML webhooks
    voicexml_secret: str | None = field(default=None, repr=False)  # VoiceXML requests
    # The directories' service-account passwords, by the variable each profile names
    # (`PATRONAUTH_DIRECTORY_...`); kept out of repr so that no log shows them.
    directory_secrets: Mapping[str, str] = field(default_factory=dict, repr=False)
    oidc_keys_file: Path | None = None  # None: oidc-keys.json under var_dir
    oidc_token_seconds: int = 3600
    metrics_token: str | None = None
    metrics_address: tuple[str, int] | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        var_dir = Path(env.get("PATRONAUTH_VAR_DIR") or "var")
        redis_url = env.get("PATRONAUTH_REDIS_URL") or None
        counter = env.get("PATRONAUTH_COUNTER") or ("redis" if redis_url else "sql")
        if counter not in {"memory", "sql", "redis"}:
            raise ConfigError("PATRONAUTH_COUNTER must be memory, sql or redis")
        if counter == "redis" and not redis_url:
            raise ConfigError("PATRONAUTH_COUNTER=redis needs PATRONAUTH_REDIS_URL")
        sip2_processes = _int(env, "PATRONAUTH_SIP2_PROCESSES", 1)
        if sip2_processes > 1 and counter == "memory":
            # Each process would count failures of its own: the lockout would let
            # `processes` times as many wrong PINs through.
            raise ConfigError(
                "PATRONAUTH_SIP2_PROCESSES above 1 needs a shared counter (sql or redis)"
            )
        institutions = env.get("PATRONAUTH_INSTITUTIONS")
        profiles_dir = env.get("PATRONAUTH_PROFILES_DIR")
        return cls(
            database_url=env.get("PATRONAUTH_DATABASE_URL") or f"sqlite:///{var_dir}/patronauth.db",
            var_dir=var_dir,
            pepper_file=Path(env.get("PATRONAUTH_PEPPER_FILE") or var_dir / "pepper.key"),
            pepper=env.get("PATRONAUTH_PEPPER") or None,
            redis_url=redis_url,
            counter=counter,
            argon2_time_cost=_int(env, "PATRONAUTH_ARGON2_TIME_COST", 2),
            argon2_memory_kib=_int(env, "PATRONAUTH_ARGON2_MEMORY_KIB", 19456),
            argon2_parallelism=_int(env, "PATRONAUTH_ARGON2_PARALLELISM", 1),
            profiles_dir=Path(profiles_dir) if profiles_dir else None,
            institutions=tuple(i.strip() for i in institutions.split(",") if i.strip())
            if institutions
            else None,
            smtp_url=env.get("PATRONAUTH_SMTP_URL") or None,
            mail_from=env.get("PATRONAUTH_MAIL_FROM") or "PatronAuth <no-reply@localhost>",
            outbox_dir=Path(env.get("PATRONAUTH_OUTBOX_DIR") or var_dir / "outbox"),
            throttle_per_source=env.get("PATRONAUTH_THROTTLE_PER_SOURCE") or "600 per minute",
            throttle_overall=env.get("PATRONAUTH_THROTTLE_OVERALL") or "5000 per second",
            staff=_staff(env.get("PATRONAUTH_STAFF") or _os_user()),
            db_pool_size=_int(env, "PATRONAUTH_DB_POOL_SIZE", 10),
            session_idle_seconds=_int(env, "PATRONAUTH_SESSION_IDLE_SECONDS", 15 * 60),
            session_absolute_seconds=_int(env, "PATRONAUTH_SESSION_ABSOLUTE_SECONDS", 8 * 3600),
            public_url=(env.get("PATRONAUTH_PUBLIC_URL") or "http://127.0.0.1:8000").rstrip("/"),
            cookie_secure=_bool(env, "PATRONAUTH_COOKIE_SECURE", True),
            trusted_proxies=_list(env.get("PATRONAUTH_TRUSTED_PROXIES")),
            db_max_overflow=_int(env, "PATRONAUTH_DB_MAX_OVERFLOW", 10, minimum=0),
            db_pool_timeout=_int(env, "PATRONAUTH_DB_POOL_TIMEOUT", 10),
            redis_timeout_ms=_int(env, "PATRONAUTH_REDIS_TIMEOUT_MS", 1000),
            redis_retry_seconds=_int(env, "PATRONAUTH_REDIS_RETRY_SECONDS", 5),
            hash_workers=_int(env, HASH_WORKERS, os.cpu_count() or 1),
            hash_queue=_int(env, "PATRONAUTH_HASH_QUEUE", 64, minimum=0),
            refusals_per_second=_int(
                env, "PATRONAUTH_REFUSALS_PER_SECOND", REFUSALS_PER_SECOND, minimum=0
            ),
            hash_gate=Path(env[HASH_GATE]) if env.get(HASH_GATE) else None,
            log_format=_choice(env, "PATRONAUTH_LOG_FORMAT", ("text", "json")),
            shutdown_seconds=_int(env, "PATRONAUTH_SHUTDOWN_SECONDS", 30),
            sip2_tls_cert=_tls_path(env, "PATRONAUTH_SIP2_TLS_CERT", "PATRONAUTH_SIP2_TLS_KEY"),
            sip2_tls_key=_tls_path(env, "PATRONAUTH_SIP2_TLS_KEY", "PATRONAUTH_SIP2_TLS_CERT"),
            sip2_idle_seconds=_int(env, "PATRONAUTH_SIP2_IDLE_SECONDS", 300),
            sip2_threads=_int(env, "PATRONAUTH_SIP2_THREADS", 8),
            sip2_processes=sip2_processes,
            staff_from_os=not env.get("PATRONAUTH_STAFF"),
            staff_networks=_networks(env.get("PATRONAUTH_STAFF_NETWORKS")),
            twilio_auth_token=env.get("PATRONAUTH_TWILIO_AUTH_TOKEN") or None,
            voicexml_secret=env.get("PATRONAUTH_VOICEXML_SECRET") or None,
            directory_secrets={
                name: value
                for name, value in env.items()
                if name.startswith("PATRONAUTH_DIRECTORY_") and value
            },
            oidc_keys_file=Path(env.get("PATRONAUTH_OIDC_KEYS_FILE") or var_dir / "oidc-keys.json"),
            oidc_token_seconds=_int(env, "PATRONAUTH_OIDC_TOKEN_SECONDS", 3600, minimum=60),
            metrics_token=_metrics_token(env.get("PATRONAUTH_METRICS_TOKEN")),
            metrics_address=_address(env, "PATRONAUTH_METRICS_ADDRESS"),
        )


def _tls_path(env: Mapping[str, str], name: str, partner: str) -> Path | None:
    """A SIP2 TLS file: the certificate and the key come together or not at all."""
    raw = env.get(name) or ""
    if bool(raw) != bool(env.get(partner)):
        raise ConfigError(f"{name} and {partner} must be set together")
    return Path(raw) if raw else None


METRICS_TOKEN_MIN_LENGTH = 32


def _metrics_token(raw: str | None) -> str | None:
    """The bearer token /metrics asks for on the public port: long, printable ASCII."""
    if not raw:
        return None
    if len(raw) < METRICS_TOKEN_MIN_LENGTH or not (raw.isascii() and raw.isprintable()):
        raise ConfigError(
            "PATRONAUTH_METRICS_TOKEN must be at least "
            f"{METRICS_TOKEN_MIN_LENGTH} printable ASCII characters"
        )
    if " " in raw:
        raise ConfigError("PATRONAUTH_METRICS_TOKEN must not contain spaces")
    return raw


def _address(env: Mapping[str, str], name: str) -> tuple[str, int] | None:
    """`host:port` (`[::1]:9100` for IPv6), or None when unset."""
    raw = (env.get(name) or "").strip()
    if not raw:
        return None
    host, sep, port = raw.rpartition(":")
    host = host.removeprefix("[").removesuffix("]")
    if not sep or not host or not port.isdigit() or not 1 <= int(port) <= 65535:
        raise ConfigError(f"{name} must be host:port, not {raw!r}")
    return host, int(port)


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = (env.get(name) or "").strip().lower()
    if not raw:
        return default
    if raw in {"1", "true", "yes", "on"}:
        return True
    if raw in {"0", "false", "no", "off"}:
        return False
    raise ConfigError(f"{name} must be true or false, not {raw!r}")


def _list(raw: str | None) -> frozenset[str]:
    return frozenset(item.strip() for item in (raw or "").split(",") if item.strip())


MAX_STAFF_NAME = 64


def _staff(name: str) -> str:
    if len(name) > MAX_STAFF_NAME or not name.isprintable():
        raise ConfigError(
            f"PATRONAUTH_STAFF must be printable and at most {MAX_STAFF_NAME} characters"
        )
    return name


def _os_user() -> str:
    try:
        import getpass

        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"
