"""Sessions in Redis, shared by every node (SPEC 5), with the database as a fallback.

Keys, under a prefix (`patronauth:sessions:` by default):

- `s:<id>`: a hash with the session's fields; `started_at` and `last_seen_at` in
  microseconds since the epoch, `revoked` 0 or 1;
- `t:<sha256 of the token>`: the session id (only the token's hash is stored);
- `p:<patron id>`: the set of the patron's session ids (for "sign out everywhere");
- `next`: the last session id given out.

The decision of whether a session is active stays in `domain/sessions.py`, on the
injected clock. The keys carry TTLs that follow the same timeouts (refreshed on every
use: the idle timeout, capped by the absolute one) plus `grace_seconds`, so that
Redis forgets a session shortly after it has ended and never while it may still be
valid. Every change of a session is one Lua script, so concurrent nodes never see
half a change.

`FallbackSessionStore` keeps sessions working while Redis is unreachable: new
sessions go to the database (`SqlSessionStore`), lookups that Redis cannot answer
are tried there; the outage is logged once and shown in the metrics (`RedisHealth`),
and Redis is tried again after a short back-off. Database sessions travel with
negative ids so that each call goes back to the store that holds the session. A
patron whose session is in Redis signs in again during the outage (that session
cannot be checked). Ending all of a patron's sessions (after a change of a secret)
ends the database's at once and is owed to Redis: the first call of this process that
reaches Redis again ends the patron's Redis sessions begun before the change, before
any of them is accepted again. (Owed ends live in the process's memory: a process that
stops before Redis returns forgets them, and another process may accept such a
session until this one has reached Redis.) Ending one Redis-held session while Redis
is unreachable raises the Redis error.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

from redis import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from patronauth.adapters.redis_health import RedisHealth
from patronauth.adapters.storage.sessions import SqlSessionStore
from patronauth.domain.credentials import CredentialKind
from patronauth.domain.sessions import Scope, Session, SessionChannel, SessionPolicy

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)
GRACE_SECONDS = 3600
UNREACHABLE = (RedisConnectionError, RedisTimeoutError, OSError)


def _micros(moment: datetime) -> int:
    return (moment - EPOCH) // MICROSECOND


def _moment(micros: bytes | str | int) -> datetime:
    return EPOCH + int(micros) * MICROSECOND


# KEYS: next, t:<hash>, p:<patron>. ARGV: fields..., ttl, patron ttl, prefix. The new
# id is taken in the same script: one round trip per new session (P1).
_CREATE = """
local id = redis.call('INCR', KEYS[1])
local key = ARGV[9] .. 's:' .. id
redis.call('HSET', key, 'token_hash', ARGV[1], 'patron_id', ARGV[2], 'channel', ARGV[3],
  'scope', ARGV[4], 'change_kind', ARGV[5], 'started_at', ARGV[6], 'last_seen_at', ARGV[6],
  'revoked', '0')
redis.call('EXPIRE', key, ARGV[7])
redis.call('SET', KEYS[2], id, 'EX', ARGV[7])
redis.call('SADD', KEYS[3], id)
redis.call('EXPIRE', KEYS[3], ARGV[8])
return id
"""

# KEYS: t:<hash>. ARGV: prefix. Returns the hash's fields, with the id, or nothing.
_FIND = """
local id = redis.call('GET', KEYS[1])
if not id then return false end
local fields = redis.call('HGETALL', ARGV[1] .. 's:' .. id)
if #fields == 0 then return false end
table.insert(fields, 'id')
table.insert(fields, id)
return fields
"""

# KEYS: s:<id>. ARGV: now (µs), idle (s), absolute (s), grace (s), prefix.
_TOUCH = """
if redis.call('HGET', KEYS[1], 'revoked') ~= '0' then return 0 end
local started = tonumber(redis.call('HGET', KEYS[1], 'started_at'))
local now = tonumber(ARGV[1])
local ends = math.min(now + tonumber(ARGV[2]) * 1000000, started + tonumber(ARGV[3]) * 1000000)
local ttl = math.max(1, math.floor((ends - now) / 1000000) + tonumber(ARGV[4]))
redis.call('HSET', KEYS[1], 'last_seen_at', ARGV[1])
redis.call('EXPIRE', KEYS[1], ttl)
redis.call('EXPIRE', ARGV[5] .. 't:' .. redis.call('HGET', KEYS[1], 'token_hash'), ttl)
return 1
"""

# KEYS: s:<id>. ARGV: scope, change_kind.
_RESCOPE = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'scope', ARGV[1], 'change_kind', ARGV[2])
return 1
"""

# KEYS: s:<id>. ARGV: prefix, grace (s). A revoked session stays findable, as revoked,
# for `grace` seconds.
_REVOKE_ONE = """
if redis.call('HGET', KEYS[1], 'revoked') ~= '0' then return 0 end
redis.call('HSET', KEYS[1], 'revoked', '1')
redis.call('EXPIRE', KEYS[1], ARGV[2])
redis.call('EXPIRE', ARGV[1] .. 't:' .. redis.call('HGET', KEYS[1], 'token_hash'), ARGV[2])
return 1
"""

# KEYS: p:<patron>. ARGV: prefix, grace (s), keep id (or ''), begun by (µs, or '').
_REVOKE_PATRON = """
local ended = 0
for _, id in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local key = ARGV[1] .. 's:' .. id
  local late = ARGV[4] ~= '' and tonumber(redis.call('HGET', key, 'started_at') or '0')
    > tonumber(ARGV[4])
  if id ~= ARGV[3] and not late then
    if redis.call('HGET', key, 'revoked') == '0' then
      redis.call('HSET', key, 'revoked', '1')
      redis.call('EXPIRE', key, ARGV[2])
      redis.call('EXPIRE', ARGV[1] .. 't:' .. redis.call('HGET', key, 'token_hash'), ARGV[2])
      ended = ended + 1
    end
    redis.call('SREM', KEYS[1], id)
  end
end
return ended
"""


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class RedisSessionStore:
    in_database = False

    def __init__(
        self,
        client: Redis,
        policy: SessionPolicy,
        *,
        prefix: str = "patronauth:sessions:",
        grace_seconds: int = GRACE_SECONDS,
    ) -> None:
        self._redis = client
        self._policy = policy
        self._prefix = prefix
        self._grace = grace_seconds
        self._create = client.register_script(_CREATE)
        self._find = client.register_script(_FIND)
        self._touch = client.register_script(_TOUCH)
        self._rescope = client.register_script(_RESCOPE)
        self._revoke_one = client.register_script(_REVOKE_ONE)
        self._revoke_patron = client.register_script(_REVOKE_PATRON)

    def _key(self, kind: str, name: object) -> str:
        return f"{self._prefix}{kind}:{name}"

    def _ttl(self, started_at: datetime, last_seen_at: datetime) -> int:
        ends = self._policy.expires_at(started_at, last_seen_at)
        return max(1, int((ends - last_seen_at).total_seconds()) + self._grace)

    def create(
        self,
        token_hash: str,
        patron_id: int,
        channel: SessionChannel,
        scope: Scope,
        change_kind: CredentialKind | None,
        *,
        source: str,
        now: datetime,
    ) -> Session:
        ttl = self._ttl(now, now)
        new_id = int(
            self._create(
                keys=[self._prefix + "next", self._key("t", token_hash), self._key("p", patron_id)],
                args=[
                    token_hash,
                    patron_id,
                    channel.value,
                    scope.value,
                    change_kind.value if change_kind else "",
                    _micros(now),
                    ttl,
                    self._policy.absolute_seconds + self._grace,
                    self._prefix,
                ],
            )
        )
        return Session(new_id, patron_id, channel, scope, change_kind, now, now, False)

    def find(self, token_hash: str) -> Session | None:
        found = self._find(keys=[self._key("t", token_hash)], args=[self._prefix])
        if not found:
            return None
        items = [_text(item) for item in found]
        row = dict(zip(items[::2], items[1::2], strict=True))
        if row.get("token_hash") != token_hash:
            return None
        return Session(
            id=int(row["id"]),
            patron_id=int(row["patron_id"]),
            channel=SessionChannel(row["channel"]),
            scope=Scope(row["scope"]),
            change_kind=CredentialKind(row["change_kind"]) if row["change_kind"] else None,
            started_at=_moment(row["started_at"]),
            last_seen_at=_moment(row["last_seen_at"]),
            revoked=row["revoked"] != "0",
        )

    def touch(self, session_id: int, now: datetime) -> None:
        self._touch(
            keys=[self._key("s", session_id)],
            args=[
                _micros(now),
                self._policy.idle_seconds,
                self._policy.absolute_seconds,
                self._grace,
                self._prefix,
            ],
        )

    def rescope(self, session_id: int, scope: Scope, change_kind: CredentialKind | None) -> None:
        self._rescope(
            keys=[self._key("s", session_id)],
            args=[scope.value, change_kind.value if change_kind else ""],
        )

    def revoke(self, session_id: int, now: datetime) -> None:
        self._revoke_one(keys=[self._key("s", session_id)], args=[self._prefix, self._grace])

    def revoke_patron(
        self,
        patron_id: int,
        now: datetime,
        *,
        keep: int | None = None,
        started_before: datetime | None = None,
    ) -> int:
        """End the patron's sessions but `keep` (and those begun after `started_before`,
        for an end applied after the fact)."""
        before = "" if started_before is None else _micros(started_before)
        ended = self._revoke_patron(
            keys=[self._key("p", patron_id)],
            args=[self._prefix, self._grace, "" if keep is None else keep, before],
        )
        return int(ended)

    def row_id(self, session: Session) -> int | None:
        return None  # no session of Redis is a row of the database


class FallbackSessionStore:
    """Redis first; the database while Redis is unreachable (see the module's text).

    `health` logs the outage once, shows it in the metrics (component "sessions") and
    spaces out the tries while Redis is down; ending sessions always tries Redis."""

    in_database = False

    def __init__(
        self,
        primary: RedisSessionStore,
        fallback: SqlSessionStore,
        health: RedisHealth | None = None,
    ) -> None:
        self._redis = primary
        self._sql = fallback
        self._health = health or RedisHealth("sessions")
        self._lock = threading.Lock()
        # patron id -> (kept Redis session id or None, when): ends owed to Redis
        self._owed: dict[int, tuple[int | None, datetime]] = {}

    def _failed(self, error: Exception) -> None:
        self._health.failed(error)

    def _answered(self) -> set[int]:
        """Redis answered: settle the ends owed to it; the patrons whose were settled."""
        self._health.succeeded()
        if not self._owed:
            return set()
        with self._lock:
            owed, self._owed = self._owed, {}
        settled = set()
        try:
            for patron_id, (keep, when) in owed.items():
                self._redis.revoke_patron(patron_id, when, keep=keep, started_before=when)
                settled.add(patron_id)
        except UNREACHABLE as error:
            with self._lock:
                for patron_id, item in owed.items():
                    if patron_id not in settled:
                        self._owed.setdefault(patron_id, item)
            self._failed(error)
        return settled

    @staticmethod
    def _from_sql(session: Session) -> Session:
        return Session(
            -session.id,
            session.patron_id,
            session.channel,
            session.scope,
            session.change_kind,
            session.started_at,
            session.last_seen_at,
            session.revoked,
        )

    def create(
        self,
        token_hash: str,
        patron_id: int,
        channel: SessionChannel,
        scope: Scope,
        change_kind: CredentialKind | None,
        *,
        source: str,
        now: datetime,
    ) -> Session:
        if self._health.should_try():
            try:
                created = self._redis.create(
                    token_hash, patron_id, channel, scope, change_kind, source=source, now=now
                )
            except UNREACHABLE as error:
                self._failed(error)
            else:
                self._answered()
                return created
        created = self._sql.create(
            token_hash, patron_id, channel, scope, change_kind, source=source, now=now
        )
        return self._from_sql(created)

    def find(self, token_hash: str) -> Session | None:
        found = None
        if self._health.should_try():
            try:
                found = self._redis.find(token_hash)
            except UNREACHABLE as error:
                self._failed(error)
            else:
                if found is not None and found.patron_id in self._answered():
                    found = self._redis.find(token_hash)  # ended meanwhile
        if found is not None:
            return found
        in_sql = self._sql.find(token_hash)
        return self._from_sql(in_sql) if in_sql else None

    def touch(self, session_id: int, now: datetime) -> None:
        if session_id < 0:
            self._sql.touch(-session_id, now)
            return
        try:
            self._redis.touch(session_id, now)
        except UNREACHABLE as error:  # a use not recorded ends the session earlier, no later
            self._failed(error)

    def rescope(self, session_id: int, scope: Scope, change_kind: CredentialKind | None) -> None:
        if session_id < 0:
            self._sql.rescope(-session_id, scope, change_kind)
        else:
            self._redis.rescope(session_id, scope, change_kind)

    def revoke(self, session_id: int, now: datetime) -> None:
        if session_id < 0:
            self._sql.revoke(-session_id, now)
            return
        try:
            self._redis.revoke(session_id, now)
        except UNREACHABLE as error:
            self._failed(error)
            raise

    def revoke_patron(self, patron_id: int, now: datetime, *, keep: int | None = None) -> int:
        # Redis first: a command that ended the database's sessions in its own
        # transaction tolerates the database failing here, never Redis being skipped.
        in_redis = keep if keep is not None and keep > 0 else None
        ended = 0
        try:
            ended += self._redis.revoke_patron(patron_id, now, keep=in_redis)
        except UNREACHABLE as error:
            # Owed to Redis: settled by the first call of this process that reaches it,
            # before any of the patron's Redis sessions is accepted again.
            with self._lock:
                self._owed[patron_id] = (in_redis, now)
            self._failed(error)
        return ended + self._sql.revoke_patron(
            patron_id, now, keep=-keep if keep is not None and keep < 0 else None
        )

    def row_id(self, session: Session) -> int | None:
        return -session.id if session.id < 0 else None
