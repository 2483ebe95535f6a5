-- Hands back jobs whose lease ran out, each with an Interrupted attempt.
-- KEYS: 1 running set
-- ARGV: 1 prefix, 2 wake channel, 3 most jobs per call
-- Returns the ids requeued.
local now = now_us()
local expired = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', num(now), 'LIMIT', 0, tonumber(ARGV[3]))
local requeued = {}
for _, id in ipairs(expired) do
  redis.call('ZREM', KEYS[1], id)
  local job = ARGV[1] .. ':job:' .. id
  local f = redis.call('HMGET', job, 's', 'n', 'cl')
  if f[1] == 'InProgress' then
    local attempts = job .. ':attempts'
    local number = redis.call('LLEN', attempts) + 1
    redis.call('RPUSH', attempts, '{"attempt":' .. num(number) .. ',"status":"Interrupted","startedAt":'
      .. (f[3] or num(now)) .. ',"finishedAt":' .. num(now)
      .. ',"result":null,"error":{"code":"interrupted","message":"the worker stopped renewing its lease before the attempt finished"}}')
    redis.call('HSET', job, 's', 'Queued', 'le', '', 'lu', num(now), 'ac', num(number))
    redis.call('HINCRBY', job, 't', 1)
    redis.call('ZADD', ARGV[1] .. ':queue:' .. f[2], num(now), id)
    redis.call('PUBLISH', ARGV[2], f[2])
    requeued[#requeued + 1] = id
  end
end
return requeued
