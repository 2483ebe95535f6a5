-- Records an attempt and moves the job on, if the lease is still the job's
-- (Lifecycle::apply(Finish)). The store numbers the attempt. A job whose
-- cancel was asked never runs again: a retry or requeue cancels it.
-- KEYS: 1 job hash, 2 attempts list, 3 running set
-- ARGV: 1 token, 2 next (complete | fail | retry | requeue | cancel), 3 attempt JSON
--       without its number, 4 result JSON, 5 error JSON, 6 retry delay (us),
--       7 id, 8 ms to keep a completed job, 9 ms to keep a failed job,
--       10 prefix, 11 wake channel
-- Returns 1, 2 when this finish was recorded before (a lost reply), or 0
-- when the lease was lost.
local f = redis.call('HMGET', KEYS[1], 't', 's', 'n', 'k', 'ac', 'ft', 'cq', 'w')
if not f[1] or f[1] ~= ARGV[1] or f[2] ~= 'InProgress' then
  if f[6] and f[6] == ARGV[1] then
    return 2
  end
  return 0
end
local now = now_us()
local stamp = num(now)
local id, next, prefix = ARGV[7], ARGV[2], ARGV[10]
if f[7] == '1' and (next == 'retry' or next == 'requeue') then
  next = 'cancel'
end
local number = (tonumber(f[5]) or 0) + 1
redis.call('ZREM', KEYS[3], id)
redis.call('RPUSH', KEYS[2], '{"attempt":' .. num(number) .. ',' .. string.sub(ARGV[3], 2))
if next == 'complete' then
  -- The result is kept once, in the job; the attempt's record reads it from
  -- there. The input is let go: nothing reads a completed job's input again.
  redis.call('HSET', KEYS[1], 's', 'Completed', 'r', ARGV[4], 'co', stamp, 'lu', stamp, 'cl', '', 'ac', number, 'ft', ARGV[1])
  redis.call('HDEL', KEYS[1], 'in')
  retain(prefix, KEYS[1], f[4], ARGV[8])
elseif next == 'fail' then
  redis.call('HSET', KEYS[1], 's', 'Failed', 'e', ARGV[5], 'co', stamp, 'lu', stamp, 'cl', '', 'ac', number, 'ft', ARGV[1])
  retain(prefix, KEYS[1], f[4], ARGV[9])
elseif next == 'cancel' then
  redis.call('HSET', KEYS[1], 's', 'Canceled', 'e', CANCELED_ERROR, 'co', stamp, 'lu', stamp, 'cl', '', 'ac', number, 'ft', ARGV[1])
  retain(prefix, KEYS[1], f[4], ARGV[9])
elseif next == 'retry' then
  local due = num(now + tonumber(ARGV[6]))
  redis.call('HSET', KEYS[1], 's', 'Scheduled', 'na', due, 'lu', stamp, 'cl', '', 'ac', number, 'ft', ARGV[1])
  redis.call('HINCRBY', KEYS[1], 'rc', 1)
  redis.call('ZADD', prefix .. ':scheduled:' .. f[3], due, id)
  redis.call('PUBLISH', ARGV[11], f[3])
else
  redis.call('HSET', KEYS[1], 's', 'Queued', 'lu', stamp, 'cl', '', 'ac', number, 'ft', ARGV[1])
  redis.call('ZADD', prefix .. ':queue:' .. f[3], stamp, id)
  redis.call('PUBLISH', ARGV[11], f[3])
end
announce(prefix, id, f[8], now, false)
return 1
