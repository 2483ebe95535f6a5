-- Records an attempt and moves the job on, if the lease is still the job's.
-- KEYS: 1 job hash, 2 attempts list, 3 running set
-- (the name's ready queue and scheduled set share the prefix's hash tag)
-- ARGV: 1 token, 2 next (complete | fail | retry | requeue), 3 attempt JSON,
--       4 result JSON, 5 error JSON, 6 retry delay (us), 7 id,
--       8 seconds to keep a completed job, 9 seconds to keep a failed job,
--       10 prefix, 11 wake channel, 12 the attempt's number
-- Returns 1, or 0 when the lease was lost.
local f = redis.call('HMGET', KEYS[1], 't', 's', 'n', 'k')
if not f[1] or f[1] ~= ARGV[1] or f[2] ~= 'InProgress' then
  return 0
end
local now = now_us()
local stamp = num(now)
local id, next = ARGV[7], ARGV[2]
redis.call('ZREM', KEYS[3], id)
redis.call('RPUSH', KEYS[2], ARGV[3])
if next == 'complete' or next == 'fail' then
  local ttl
  if next == 'complete' then
    redis.call('HSET', KEYS[1], 's', 'Completed', 'r', ARGV[4], 'co', stamp, 'lu', stamp, 'le', '', 'ac', ARGV[12])
    ttl = ARGV[8]
  else
    redis.call('HSET', KEYS[1], 's', 'Failed', 'e', ARGV[5], 'co', stamp, 'lu', stamp, 'le', '', 'ac', ARGV[12])
    ttl = ARGV[9]
  end
  redis.call('EXPIRE', KEYS[1], ttl)
  redis.call('EXPIRE', KEYS[2], ttl)
  if f[4] and f[4] ~= '' then
    redis.call('EXPIRE', ARGV[10] .. ':key:' .. f[4], ttl)
  end
elseif next == 'retry' then
  local due = num(now + tonumber(ARGV[6]))
  redis.call('HSET', KEYS[1], 's', 'Scheduled', 'na', due, 'lu', stamp, 'le', '', 'ac', ARGV[12])
  redis.call('HINCRBY', KEYS[1], 'rc', 1)
  redis.call('ZADD', ARGV[10] .. ':scheduled:' .. f[3], due, id)
  redis.call('PUBLISH', ARGV[11], f[3])
else
  redis.call('HSET', KEYS[1], 's', 'Queued', 'lu', stamp, 'le', '', 'ac', ARGV[12])
  redis.call('ZADD', ARGV[10] .. ':queue:' .. f[3], stamp, id)
  redis.call('PUBLISH', ARGV[11], f[3])
end
return 1
