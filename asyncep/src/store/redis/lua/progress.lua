-- Keeps the latest progress of a job whose lease is still the caller's.
-- KEYS: 1 job hash
-- ARGV: 1 token, 2 progress JSON, 3 id, 4 prefix
-- Returns 1, or 0 when the lease was lost.
local f = redis.call('HMGET', KEYS[1], 't', 's', 'w')
if not f[1] or f[1] ~= ARGV[1] or f[2] ~= 'InProgress' then
  return 0
end
local now = now_us()
redis.call('HSET', KEYS[1], 'p', ARGV[2], 'lu', num(now))
announce(ARGV[4], ARGV[3], f[3], now, false)
return 1
