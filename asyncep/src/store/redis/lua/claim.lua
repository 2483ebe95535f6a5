-- Takes the oldest runnable job among the given names, under a lease.
-- KEYS: 1 running set, then for each name: ready queue, scheduled set
-- ARGV: 1 lease (us), 2 prefix, 3 most due retries to promote per name
-- Returns {0, next_due or ''} when idle, {2} when the picked job vanished
-- (the caller claims again), or
-- {1, id, token, lease_expiry, name, retry_count, max_retries, input, attempts_so_far}.
local now = now_us()
local stamp = num(now)
local best_queue, best_id, best_score
for i = 2, #KEYS, 2 do
  local queue, scheduled = KEYS[i], KEYS[i + 1]
  local due = redis.call('ZRANGEBYSCORE', scheduled, '-inf', stamp, 'LIMIT', 0, ARGV[3])
  for _, id in ipairs(due) do
    redis.call('ZREM', scheduled, id)
    redis.call('ZADD', queue, stamp, id)
  end
  local head = redis.call('ZRANGE', queue, 0, 0, 'WITHSCORES')
  if head[1] then
    local score = tonumber(head[2])
    if not best_score or score < best_score then
      best_queue, best_id, best_score = queue, head[1], score
    end
  end
end
if not best_id then
  local next_due
  for i = 3, #KEYS, 2 do
    local later = redis.call('ZRANGE', KEYS[i], 0, 0, 'WITHSCORES')
    if later[1] then
      local at = tonumber(later[2])
      if not next_due or at < next_due then
        next_due = at
      end
    end
  end
  if next_due then
    return {0, num(next_due)}
  end
  return {0, ''}
end
redis.call('ZREM', best_queue, best_id)
local job = ARGV[2] .. ':job:' .. best_id
local f = redis.call('HMGET', job, 'n', 'rc', 'mr', 'in', 'sa', 'ac')
if not f[1] then
  return {2}
end
local token = redis.call('HINCRBY', job, 't', 1)
local expires = num(now + tonumber(ARGV[1]))
if f[5] then
  redis.call('HSET', job, 's', 'InProgress', 'cl', stamp, 'le', expires, 'lu', stamp, 'na', '')
else
  redis.call('HSET', job, 's', 'InProgress', 'cl', stamp, 'le', expires, 'lu', stamp, 'na', '', 'sa', stamp)
end
redis.call('ZADD', KEYS[1], expires, best_id)
return {1, best_id, tostring(token), expires, f[1], f[2] or '0', f[3], f[4], f[6] or '0'}
