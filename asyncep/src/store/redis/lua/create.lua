-- Stores a job, or finds the one a repeated request made (the rule of
-- store/repeat.rs).
-- KEYS: 1 job hash, 2 ready queue of the name, 3 idempotency key (or the job hash when none),
--       4 the name's listing index
-- ARGV: 1 id, 2 name, 3 max retries, 4 input JSON, 5 fingerprint ('' = none),
--       6 the key as filed, scoped to the caller ('' = none), 7 prefix,
--       8 wake channel, 9 the caller ('' = none, else '=' and its name)
-- Returns {0, id, created_at} for a new job, {1, id, ''} for a repeat,
-- {2, id, ''} for a key or id used by another request, {3, '', ''} for an
-- id that belongs to another caller's job.
local id, fingerprint, key, prefix, caller = ARGV[1], ARGV[5], ARGV[6], ARGV[7], ARGV[9]
local id_exists = redis.call('EXISTS', KEYS[1]) == 1
if id_exists and (redis.call('HGET', KEYS[1], 'cr') or '') ~= caller then
  return {3, '', ''}
end

if key ~= '' then
  local keyed = redis.call('GET', KEYS[3])
  if keyed then
    local keyed_job = prefix .. ':job:' .. keyed
    if redis.call('EXISTS', keyed_job) == 1 then
      if id_exists and keyed ~= id then
        return {2, keyed, ''}
      end
      local fp = redis.call('HGET', keyed_job, 'fp')
      if fp and fp ~= '' and fp == fingerprint then
        return {1, keyed, ''}
      end
      return {2, keyed, ''}
    end
    redis.call('DEL', KEYS[3])
  end
end

if id_exists then
  local fp = redis.call('HGET', KEYS[1], 'fp') or ''
  if fp ~= fingerprint then
    return {2, id, ''}
  end
  -- The same request (or a create repeated after a lost reply): record the
  -- key it names, with the job's retention if it has one.
  if key ~= '' then
    redis.call('SET', KEYS[3], id)
    local ttl = redis.call('PTTL', KEYS[1])
    if ttl > 0 then
      redis.call('PEXPIRE', KEYS[3], ttl)
    end
    local keys = redis.call('HGET', KEYS[1], 'k') or ''
    if keys == '' then
      redis.call('HSET', KEYS[1], 'k', key)
    else
      redis.call('HSET', KEYS[1], 'k', keys .. '\n' .. key)
    end
  end
  return {1, id, ''}
end

local now = num(now_us())
redis.call('HSET', KEYS[1], 'n', ARGV[2], 's', 'Queued', 'rc', '0', 'mr', ARGV[3], 'ca', now, 'lu', now,
  'in', ARGV[4], 'fp', fingerprint, 'k', key, 't', '0', 'ac', '0', 'cr', caller)
redis.call('ZADD', KEYS[2], now, id)
redis.call('ZADD', KEYS[4], now, id)
if key ~= '' then
  redis.call('SET', KEYS[3], id)
end
redis.call('PUBLISH', ARGV[8], ARGV[2])
return {0, id, now}
