-- A consistent snapshot of a job: its hash and its attempts.
-- KEYS: 1 job hash, 2 attempts list
if redis.call('EXISTS', KEYS[1]) == 0 then
  return false
end
return {redis.call('HGETALL', KEYS[1]), redis.call('LRANGE', KEYS[2], 0, -1)}
