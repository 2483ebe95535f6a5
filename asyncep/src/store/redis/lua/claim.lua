-- Recovers expired leases, then takes up to `limit` runnable jobs among the
-- given names, oldest first, each under a lease with a fresh fencing token
-- from one counter (Lifecycle::apply(Claim)). A claim repeated with the
-- same claim id answers with the jobs the first one took.
-- KEYS: 1 running set, 2 token counter, 3 this claim's record,
--       then for each name: ready queue, scheduled set
-- ARGV: 1 lease (us), 2 prefix, 3 most due retries to promote per name,
--       4 limit, 5 wake channel, 6 most expired leases to recover,
--       7 lost leases that fail a job, 8 ms to keep a failed job,
--       9 the error JSON of such a job, 10 the error JSON of an interrupted attempt
-- Returns {next_due_in_us or '', {vanished ids}, job, job, ...} where a job
-- is {id, token, name, retry_count, max_retries, input, attempts_so_far, lease_left_us}.
local now = now_us()
local prefix = ARGV[2]

local function taken(id, token, left)
  local f = redis.call('HMGET', prefix .. ':job:' .. id, 'n', 'rc', 'mr', 'in', 'ac')
  return {id, token, f[1], f[2] or '0', f[3], f[4], f[5] or '0', num(left)}
end

local record = redis.call('GET', KEYS[3])
if record then
  local reply = {'', {}}
  for id, token in string.gmatch(record, '(%S+) (%S+)') do
    local f = redis.call('HMGET', prefix .. ':job:' .. id, 't', 's')
    local expires = redis.call('ZSCORE', KEYS[1], id)
    if f[1] == token and f[2] == 'InProgress' and expires then
      reply[#reply + 1] = taken(id, token, tonumber(expires) - now)
    end
  end
  return reply
end

recover_expired(KEYS[1], prefix, ARGV[5], tonumber(ARGV[6]), tonumber(ARGV[7]), ARGV[8], ARGV[9], ARGV[10], now)

local stamp = num(now)
for i = 4, #KEYS, 2 do
  local queue, scheduled = KEYS[i], KEYS[i + 1]
  local due = redis.call('ZRANGEBYSCORE', scheduled, '-inf', stamp, 'LIMIT', 0, ARGV[3])
  for _, id in ipairs(due) do
    redis.call('ZREM', scheduled, id)
    redis.call('ZADD', queue, stamp, id)
  end
end

local lease = tonumber(ARGV[1])
local expires = num(now + lease)
local reply = {'', {}}
local claimed = {}
local limit = tonumber(ARGV[4])
while #claimed < limit do
  local best_queue, best_id, best_score
  for i = 4, #KEYS, 2 do
    local head = redis.call('ZRANGE', KEYS[i], 0, 0, 'WITHSCORES')
    if head[1] then
      local score = tonumber(head[2])
      if not best_score or score < best_score then
        best_queue, best_id, best_score = KEYS[i], head[1], score
      end
    end
  end
  if not best_id then
    break
  end
  redis.call('ZREM', best_queue, best_id)
  local job = prefix .. ':job:' .. best_id
  local f = redis.call('HMGET', job, 's', 'sa')
  if not f[1] then
    -- The hash is gone while its id was queued: evicted by a Redis whose
    -- maxmemory-policy is not noeviction. Reported to the caller.
    local vanished = reply[2]
    vanished[#vanished + 1] = best_id
  else
    local token = num(redis.call('INCR', KEYS[2]))
    if f[2] then
      redis.call('HSET', job, 's', 'InProgress', 't', token, 'cl', stamp, 'lu', stamp, 'na', '')
    else
      redis.call('HSET', job, 's', 'InProgress', 't', token, 'cl', stamp, 'lu', stamp, 'na', '', 'sa', stamp)
    end
    redis.call('ZADD', KEYS[1], expires, best_id)
    claimed[#claimed + 1] = best_id .. ' ' .. token
    reply[#reply + 1] = taken(best_id, token, lease)
  end
end

if #claimed > 0 then
  redis.call('SET', KEYS[3], table.concat(claimed, ' '), 'PX', math.max(1, math.floor(lease / 1000)))
else
  local next_due
  for i = 5, #KEYS, 2 do
    local later = redis.call('ZRANGE', KEYS[i], 0, 0, 'WITHSCORES')
    if later[1] then
      local at = tonumber(later[2])
      if not next_due or at < next_due then
        next_due = at
      end
    end
  end
  if next_due then
    reply[1] = num(math.max(0, next_due - now))
  end
end
return reply
