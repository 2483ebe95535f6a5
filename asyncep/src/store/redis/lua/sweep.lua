-- Drops the index entries of jobs Redis let go of (their keys expired),
-- ARGV[3] entries per call, oldest first from where the last call stopped
-- (kept in the sweep hash), starting over once the index is read through.
-- KEYS: 1 the name's index, 2 the sweep hash
-- ARGV: 1 prefix, 2 the name, 3 entries per call
-- Returns how many entries were dropped.
local index, sweep, prefix, name = KEYS[1], KEYS[2], ARGV[1], ARGV[2]
local count = tonumber(ARGV[3])
local from = redis.call('HGET', sweep, name) or '-inf'
local batch = redis.call('ZRANGEBYSCORE', index, from, '+inf', 'WITHSCORES', 'LIMIT', 0, count)
local dropped = 0
for i = 1, #batch, 2 do
  if redis.call('EXISTS', prefix .. ':job:' .. batch[i]) == 0 then
    redis.call('ZREM', index, batch[i])
    dropped = dropped + 1
  end
end
if #batch < 2 * count then
  redis.call('HDEL', sweep, name)
else
  redis.call('HSET', sweep, name, '(' .. batch[#batch])
end
return dropped
