-- Takes the oldest runnable job among the given names, under a lease.
-- KEYS: 1 running set, then for each name: ready queue, scheduled set
-- ARGV: 1 lease (us), 2 prefix, 3 most due retries to promote per name
-- Returns {0, next_due or ''} when idle, {2} when the picked job vanished
-- (the caller claims again), or
-- {1, id, token, lease_expiry, name, retry_count, max_retries, input, attempts_so_far}.
local now = now_us()
local best_queue, best_id, best_score, next_due
for i = 2, #KEYS, 2 do
  local queue, scheduled = KEYS[i], KEYS[i + 1]
  local due = redis.call('ZRANGEBYSCORE', scheduled, '-inf', num(now), 'LIMIT', 0, tonumber(ARGV[3]))
  for _, id in ipairs(due) do
    redis.call('ZREM', scheduled, id)
    redis.call('ZADD', queue, num(now), id)
  end
  local head = redis.call('ZRANGE', queue, 0, 0, 'WITHSCORES')
  if head[1] then
    local score = tonumber(head[2])
    if not best_score or score < best_score then
      best_queue, best_id, best_score = queue, head[1], score
    end
  end
  local later = redis.call('ZRANGE', scheduled, 0, 0, 'WITHSCORES')
  if later[1] then
    local at = tonumber(later[2])
    if not next_due or at < next_due then
      next_due = at
    end
  end
end
if not best_id then
  if next_due then
    return {0, num(next_due)}
  end
  return {0, ''}
end
redis.call('ZREM', best_queue, best_id)
local job = ARGV[2] .. ':job:' .. best_id
if redis.call('EXISTS', job) == 0 then
  return {2}
end
local token = redis.call('HINCRBY', job, 't', 1)
local expires = num(now + tonumber(ARGV[1]))
redis.call('HSET', job, 's', 'InProgress', 'cl', num(now), 'le', expires, 'lu', num(now), 'na', '')
local started = redis.call('HGET', job, 'sa')
if not started or started == '' then
  redis.call('HSET', job, 'sa', num(now))
end
redis.call('ZADD', KEYS[1], expires, best_id)
local f = redis.call('HMGET', job, 'n', 'rc', 'mr', 'in')
local attempts = redis.call('LLEN', job .. ':attempts')
return {1, best_id, tostring(token), expires, f[1], f[2], f[3], f[4], tostring(attempts)}
