-- Asks that the changes of a job be announced until `period` from now (its
-- field 'w'), unless a later watch asked for longer.
-- KEYS: 1 job hash
-- ARGV: 1 period (us)
-- Returns 0 when there is no such job, else 1.
local w = redis.call('HMGET', KEYS[1], 's', 'w')
if not w[1] then
  return 0
end
local until_us = now_us() + tonumber(ARGV[1])
if not w[2] or w[2] == '' or tonumber(w[2]) < until_us then
  redis.call('HSET', KEYS[1], 'w', num(until_us))
end
return 1
