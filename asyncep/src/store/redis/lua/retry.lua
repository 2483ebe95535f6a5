-- Runs a Failed job again (Lifecycle::apply(Retry)): queued at the end of its
-- queue with its full retry budget, its error and end time dropped, its
-- retention lifted (the hash, its attempts and its keys persist again), its
-- attempts kept. Any other job is left as it is.
-- KEYS: 1 job hash, 2 attempts list
-- ARGV: 1 id, 2 prefix, 3 wake channel
-- Returns 0 when there is no such job, 2 when it was queued again, else 1.
local f = redis.call('HMGET', KEYS[1], 's', 'n', 'k', 'w')
if not f[1] then
  return 0
end
if f[1] ~= 'Failed' then
  return 1
end
local id, prefix = ARGV[1], ARGV[2]
local now = now_us()
local stamp = num(now)
redis.call('HSET', KEYS[1], 's', 'Queued', 'rc', 0, 'll', 0, 'co', '', 'na', '', 'cq', '0', 'lu', stamp)
redis.call('HDEL', KEYS[1], 'e')
redis.call('PERSIST', KEYS[1])
redis.call('PERSIST', KEYS[2])
for key in each_key(f[3]) do
  redis.call('PERSIST', prefix .. ':key:' .. key)
end
redis.call('ZADD', prefix .. ':queue:' .. f[2], stamp, id)
redis.call('PUBLISH', ARGV[3], f[2])
announce(prefix, id, f[4], now, false)
return 2
