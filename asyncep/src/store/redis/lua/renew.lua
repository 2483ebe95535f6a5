-- Extends a lease that is still the job's.
-- KEYS: 1 job hash, 2 running set
-- ARGV: 1 token, 2 period (us), 3 id
-- Returns 1, 2 when a cancel of the job was asked, or 0 when the lease was
-- lost.
local f = redis.call('HMGET', KEYS[1], 't', 's', 'cq')
if not f[1] or f[1] ~= ARGV[1] or f[2] ~= 'InProgress' then
  return 0
end
redis.call('ZADD', KEYS[2], num(now_us() + tonumber(ARGV[2])), ARGV[3])
if f[3] == '1' then
  return 2
end
return 1
