"""The attempt counter in Redis: admission and settlement are one Lua script each.

Each script runs `patronauth.domain.lockout`'s `admit` or `settle`, transcribed, on the
key's state, atomically (Redis runs a script alone), in one round trip (EVALSHA; the
script is loaded again by redis-py when Redis answers NOSCRIPT, after a restart or a
`SCRIPT FLUSH`). The state keeps the JSON encoding of `encode`, so a plain `GET`
(`blocked_for`) and the rarer read-modify-writes of the fallback (`add`,
`forget_pending`, under WATCH/MULTI) read and write the same value. Times are written
with 17 significant digits, enough to give back the very float a ticket was.

`tests/integration/test_counters.py` holds this store to the same cases as the
memory and SQL stores, whose decisions are the domain's own functions.
"""

from __future__ import annotations

from collections.abc import Collection

from redis import Redis
from redis.exceptions import WatchError

from patronauth.adapters import metrics
from patronauth.adapters.counters import (
    StateCounter,
    T,
    Update,
    decode,
    encode,
    merged,
    without_pending,
)
from patronauth.domain.lockout import (
    Admission,
    Admitted,
    Blocked,
    CounterState,
    Full,
    LockoutRule,
)

TTL_SECONDS = 2 * 86400  # beyond the longest escalation period

# Shared by both scripts: read, prune (`_pruned`), write back when changed.
_COMMON = """
local function load(key)
  local text = redis.call('GET', key)
  local state = {f = {}, p = {}, b = 0.0, h = {}}
  if text then
    local data = cjson.decode(text)
    state.f = data.f or {}
    state.p = data.p or {}
    state.b = tonumber(data.b or 0) or 0
    state.h = data.h or {}
  end
  return state
end

local function after(values, start)
  local kept = {}
  for _, t in ipairs(values) do
    if t > start then kept[#kept + 1] = t end
  end
  return kept
end

local function pruned(state, now, window, escalation)
  local b = state.b
  if not (b > now) then b = 0.0 end
  return {
    f = after(state.f, now - window),
    p = after(state.p, now - window),
    b = b,
    h = after(state.h, now - escalation),
  }
end

local function numbers(values)
  local parts = {}
  for i, t in ipairs(values) do parts[i] = string.format('%.17g', t) end
  return '[' .. table.concat(parts, ',') .. ']'
end

local function same(a, b)
  if #a ~= #b then return false end
  for i = 1, #a do
    if a[i] ~= b[i] then return false end
  end
  return true
end

local function unchanged(x, y)
  return x.b == y.b and same(x.f, y.f) and same(x.p, y.p) and same(x.h, y.h)
end

local function store(key, before, state, ttl)
  if unchanged(before, state) then return end
  if #state.f == 0 and #state.p == 0 and #state.h == 0 and state.b == 0 then
    redis.call('DEL', key)
    return
  end
  local text = '{"f":' .. numbers(state.f) .. ',"p":' .. numbers(state.p)
    .. ',"b":' .. string.format('%.17g', state.b) .. ',"h":' .. numbers(state.h) .. '}'
  redis.call('SET', key, text, 'EX', ttl)
end

local function seconds(value)
  return math.max(1, math.ceil(value))
end
"""

# KEYS[1] the counter; ARGV: now, max_failures, window, escalation, ttl (`admit`).
# Answers {"admitted", now} | {"blocked", seconds} | {"full"}.
_ADMIT = (
    _COMMON
    + """
local key = KEYS[1]
local now, limit = tonumber(ARGV[1]), tonumber(ARGV[2])
local window, escalation, ttl = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local before = load(key)
local state = pruned(before, now, window, escalation)
local answer
if state.b > now then
  answer = {'blocked', seconds(state.b - now)}
elseif #state.f >= limit then  -- a rule made stricter since: as a block
  local sorted = {}
  for i, t in ipairs(state.f) do sorted[i] = t end
  table.sort(sorted)
  answer = {'blocked', seconds(sorted[#sorted - limit + 1] + window - now)}
elseif #state.f + #state.p >= limit then
  answer = {'full'}
else
  state.p[#state.p + 1] = now
  answer = {'admitted', ARGV[1]}
end
store(key, before, state, ttl)
return answer
"""
)

# KEYS[1] the counter; ARGV: ticket, success (1/0), now, max_failures, window,
# escalation, block_seconds, block_max_seconds, ttl (`settle`).
# Answers 1 when this settlement started a block, else 0.
_SETTLE = (
    _COMMON
    + """
local key = KEYS[1]
local ticket, success, now = tonumber(ARGV[1]), ARGV[2] == '1', tonumber(ARGV[3])
local limit, window, escalation = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local block, longest, ttl = tonumber(ARGV[7]), tonumber(ARGV[8]), tonumber(ARGV[9])
local before = load(key)
local pending = {}
local removed = false
for _, t in ipairs(before.p) do
  if not removed and t == ticket then removed = true else pending[#pending + 1] = t end
end
local state = pruned({f = before.f, p = pending, b = before.b, h = before.h}, now, window,
  escalation)
if not success then
  state.f[#state.f + 1] = ticket
  if #state.f >= limit then
    state.b = now + math.min(block * 2 ^ #state.h, longest)
    state.f = {}
    state.h[#state.h + 1] = now
  end
end
store(key, before, state, ttl)
if state.b > math.max(before.b, now) then return 1 end
return 0
"""
)


def _number(value: float) -> str:
    return repr(float(value))  # the shortest text that reads back as the same float


class RedisAttemptCounter(StateCounter):
    """Shared by every node; each admission and settlement is one atomic script."""

    def __init__(self, client: Redis, prefix: str = "patronauth:attempts:") -> None:
        self._redis = client
        self._prefix = prefix
        self._admit = client.register_script(_ADMIT)
        self._settle = client.register_script(_SETTLE)

    def admit(self, key: str, now: float, rule: LockoutRule) -> Admission:
        answer = self._admit(
            keys=[self._prefix + key],
            args=[
                _number(now),
                rule.max_failures,
                _number(rule.window_seconds),
                _number(rule.escalation_seconds),
                TTL_SECONDS,
            ],
        )
        kind = answer[0].decode() if isinstance(answer[0], bytes) else answer[0]
        if kind == "admitted":
            return Admitted(float(answer[1]))
        if kind == "blocked":
            return Blocked(int(answer[1]))
        return Full()

    def settle(
        self, key: str, ticket: float, *, success: bool, now: float, rule: LockoutRule
    ) -> None:
        started = self._settle(
            keys=[self._prefix + key],
            args=[
                _number(ticket),
                1 if success else 0,
                _number(now),
                rule.max_failures,
                _number(rule.window_seconds),
                _number(rule.escalation_seconds),
                _number(rule.block_seconds),
                _number(rule.block_max_seconds),
                TTL_SECONDS,
            ],
        )
        if started:
            metrics.BLOCKS.inc()

    def _update(self, key: str, change: Update[T]) -> T:
        """A read-modify-write in Python, for the fallback's rare merges."""
        name = self._prefix + key
        with self._redis.pipeline() as pipe:
            while True:
                try:
                    pipe.watch(name)  # type: ignore[no-untyped-call]
                    before = decode(pipe.get(name))
                    state, result = change(before)
                    if state == before:
                        pipe.unwatch()
                        return result
                    pipe.multi()
                    if state.is_empty:
                        pipe.delete(name)
                    else:
                        pipe.set(name, encode(state), ex=TTL_SECONDS)
                    pipe.execute()
                    return result
                except WatchError:
                    continue

    def _read(self, key: str) -> CounterState:
        return decode(self._redis.get(self._prefix + key))

    def _read_each(self, keys: Collection[str]) -> dict[str, CounterState]:
        ordered = list(keys)
        if not ordered:
            return {}
        texts = self._redis.mget([self._prefix + key for key in ordered])
        return {key: decode(text) for key, text in zip(ordered, texts, strict=True)}

    def clear(self, key: str) -> None:
        self._redis.delete(self._prefix + key)

    def ping(self) -> None:
        self._redis.ping()

    def add(self, key: str, state: CounterState) -> None:
        """Counts made elsewhere (in the database, while Redis was away) join this one."""
        self._update(key, lambda before: (merged(before, state), None))

    def forget_pending(self, key: str, ticket: float) -> None:
        """An attempt admitted here but settled elsewhere no longer holds a place."""
        self._update(key, lambda before: (without_pending(before, ticket), None))
