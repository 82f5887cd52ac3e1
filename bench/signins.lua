-- Sign-in attempts through `POST /api/v1/sessions`, driven by wrk (bench/wrk.py): the
-- cards in turn with one secret (P1: their password; P2's flood: a wrong one on blocked
-- cards), each attempt from a new client address in X-Forwarded-For (trusted from
-- loopback, as behind nginx). Every answer's status is counted and printed at the end,
-- so that the bench counts only the answers it asked for.
local cards = {}
for card in string.gmatch(os.getenv("WRK_CARDS") or "", "[^,]+") do
  cards[#cards + 1] = card
end
local secret = os.getenv("WRK_SECRET")
local path = os.getenv("WRK_PATH") or "/api/v1/sessions"
local threads = {}
sent = 0
statuses = {}

function setup(thread)
  threads[#threads + 1] = thread
end

function init(args)
  math.randomseed(os.time() + #cards + tonumber(tostring({}):match("0x(%x+)") or "0", 16) % 1000)
end

function request()
  sent = sent + 1
  local source = string.format(
    "10.%d.%d.%d", math.random(0, 255), math.random(0, 255), math.random(1, 254)
  )
  local body = string.format(
    '{"identifier":"%s","secret":"%s"}', cards[sent % #cards + 1], secret
  )
  return wrk.format("POST", path, {
    ["Content-Type"] = "application/json",
    ["X-Forwarded-For"] = source,
  }, body)
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local total = {}
  for _, thread in ipairs(threads) do
    for status, count in pairs(thread:get("statuses")) do
      total[status] = (total[status] or 0) + count
    end
  end
  for status, count in pairs(total) do
    io.write(string.format("status %d %d\n", status, count))
  end
  io.write(string.format("elapsed_us %d\n", summary.duration))
  io.write(string.format("errors %d\n", summary.errors.connect + summary.errors.read
    + summary.errors.write + summary.errors.timeout))
  for _, p in ipairs({ 50, 99 }) do
    io.write(string.format("latency_p%d_us %d\n", p, latency:percentile(p)))
  end
end
