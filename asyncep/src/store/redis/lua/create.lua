-- Stores a job, or finds the one a repeated request already made.
-- KEYS: 1 job hash, 2 ready queue of the name, 3 idempotency key (or the job hash when none)
-- ARGV: 1 id, 2 name, 3 max retries, 4 input JSON, 5 fingerprint ('' = none),
--       6 idempotency key ('' = none), 7 prefix, 8 wake channel
-- Returns {0, id, created_at} for a new job, {1, id} for the same request,
-- {2, id} for a key used by another request.
local function match(job_key, id)
  local fp = redis.call('HGET', job_key, 'fp')
  if fp and fp ~= '' and fp == ARGV[5] then
    return {1, id, ''}
  end
  return {2, id, ''}
end

if ARGV[6] ~= '' then
  local existing = redis.call('GET', KEYS[3])
  if existing then
    local existing_key = ARGV[7] .. ':job:' .. existing
    if redis.call('EXISTS', existing_key) == 1 then
      return match(existing_key, existing)
    end
    redis.call('DEL', KEYS[3])
  end
end
if redis.call('EXISTS', KEYS[1]) == 1 then
  return match(KEYS[1], ARGV[1])
end
local now = num(now_us())
redis.call('HSET', KEYS[1], 'n', ARGV[2], 's', 'Queued', 'rc', '0', 'mr', ARGV[3], 'ca', now, 'lu', now,
  'in', ARGV[4], 'fp', ARGV[5], 'k', ARGV[6], 't', '0')
redis.call('ZADD', KEYS[2], now, ARGV[1])
if ARGV[6] ~= '' then
  redis.call('SET', KEYS[3], ARGV[1])
end
redis.call('PUBLISH', ARGV[8], ARGV[2])
return {0, ARGV[1], now}
