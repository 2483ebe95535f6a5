-- Cancels a job (Lifecycle::apply(Cancel)): a Queued or Scheduled job ends
-- Canceled at once and leaves its queue; a running one is marked ('cq'),
-- and every process hears of it, so its worker stops the handler. A
-- canceled or marked job, and a finished one, are left as they are.
-- KEYS: 1 job hash
-- ARGV: 1 id, 2 prefix, 3 ms to keep a canceled job
-- Returns 0 when there is no such job, 2 when this cancel ended it, else 1.
local f = redis.call('HMGET', KEYS[1], 's', 'n', 'k', 'cq', 'w')
if not f[1] then
  return 0
end
local id, prefix = ARGV[1], ARGV[2]
local now = now_us()
local stamp = num(now)
if f[1] == 'Queued' or f[1] == 'Scheduled' then
  redis.call('ZREM', prefix .. ':queue:' .. f[2], id)
  redis.call('ZREM', prefix .. ':scheduled:' .. f[2], id)
  redis.call('HSET', KEYS[1], 's', 'Canceled', 'e', CANCELED_ERROR, 'co', stamp, 'lu', stamp, 'na', '')
  retain(prefix, KEYS[1], f[3], ARGV[3])
  announce(prefix, id, f[5], now, false)
  return 2
elseif f[1] == 'InProgress' and f[4] ~= '1' then
  redis.call('HSET', KEYS[1], 'cq', '1', 'lu', stamp)
  announce(prefix, id, f[5], now, true)
end
return 1
