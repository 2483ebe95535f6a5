-- Hands back jobs whose lease ran out, each with an Interrupted attempt; a
-- job that lost its worker too often fails instead.
-- KEYS: 1 running set
-- ARGV: 1 prefix, 2 wake channel, 3 most jobs per call, 4 lost leases that
--       fail a job, 5 seconds to keep a failed job, 6 the error JSON then
-- Returns the ids recovered.
local now = now_us()
local stamp = num(now)
local expired = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', stamp, 'LIMIT', 0, tonumber(ARGV[3]))
local recovered = {}
for _, id in ipairs(expired) do
  redis.call('ZREM', KEYS[1], id)
  local job = ARGV[1] .. ':job:' .. id
  local f = redis.call('HMGET', job, 's', 'n', 'cl', 'k')
  if f[1] == 'InProgress' then
    local attempts = job .. ':attempts'
    local number = redis.call('LLEN', attempts) + 1
    redis.call('RPUSH', attempts, '{"attempt":' .. num(number) .. ',"status":"Interrupted","startedAt":'
      .. (f[3] or stamp) .. ',"finishedAt":' .. stamp
      .. ',"result":null,"error":{"code":"interrupted","message":"the worker stopped renewing its lease before the attempt finished"}}')
    redis.call('HINCRBY', job, 't', 1)
    local lost = redis.call('HINCRBY', job, 'll', 1)
    if lost >= tonumber(ARGV[4]) then
      redis.call('HSET', job, 's', 'Failed', 'e', ARGV[6], 'co', stamp, 'le', '', 'lu', stamp, 'ac', num(number))
      redis.call('EXPIRE', job, ARGV[5])
      redis.call('EXPIRE', attempts, ARGV[5])
      if f[4] and f[4] ~= '' then
        redis.call('EXPIRE', ARGV[1] .. ':key:' .. f[4], ARGV[5])
      end
    else
      redis.call('HSET', job, 's', 'Queued', 'le', '', 'lu', stamp, 'ac', num(number))
      redis.call('ZADD', ARGV[1] .. ':queue:' .. f[2], stamp, id)
      redis.call('PUBLISH', ARGV[2], f[2])
    end
    recovered[#recovered + 1] = id
  end
end
return recovered
