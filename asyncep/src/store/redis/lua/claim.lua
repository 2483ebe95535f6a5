-- Recovers expired leases, then takes up to `limit` runnable jobs among the
-- given names, oldest first, each under a lease with a fresh fencing token
-- from one counter (Lifecycle::apply(Claim)), and the claim's id. A claim
-- flagged as a repeat (its reply was lost) answers with the jobs that still
-- run under its id, found by a scan of the running set: only a repeat pays.
-- KEYS: 1 running set, 2 token counter, then for each name: ready queue, scheduled set
-- ARGV: 1 lease (us), 2 prefix, 3 limit, 4 wake channel, 5 claim id,
--       6 '1' for a repeat, 7 ms to keep a failed job, 8 '1' to look for
--       expired leases (the process looks at most every quarter lease)
-- Returns {next_due_in_us or '', {vanished ids}, job, job, ...} where a job
-- is {id, token, name, retry_count, max_retries, input, attempts_so_far, lease_left_us, caller,
-- waited_us}.
local now = now_us()
local prefix = ARGV[2]

-- The reply for one job, from its fields {n, rc, mr, in, ac, sa, cr}.
local function taken(id, token, f, left, waited)
  return {id, token, f[1], f[2] or '0', f[3], f[4], f[5] or '0', left, f[7] or '', waited}
end

if ARGV[6] == '1' then
  local reply = {'', {}}
  local running = redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')
  for i = 1, #running, 2 do
    local id = running[i]
    local f = redis.call('HMGET', prefix .. ':job:' .. id, 'n', 'rc', 'mr', 'in', 'ac', 'sa', 'cr', 't', 's', 'ci')
    local left = tonumber(running[i + 1]) - now
    -- Only leases that still hold: an expired one belongs to recovery.
    if f[10] == ARGV[5] and f[9] == 'InProgress' and left > 0 then
      reply[#reply + 1] = taken(id, f[8], f, left, 0)
    end
  end
  if #reply > 2 then
    return reply
  end
end

local gone = {}
if ARGV[8] == '1' then
  local _, vanished = recover_expired(KEYS[1], prefix, ARGV[4], ARGV[7], now)
  gone = vanished
end

-- Due retries of the names asked join the end of their queues, earliest
-- due first across the names (a microsecond apart, so the order is kept).
local stamp = num(now)
local due = {}
for i = 3, #KEYS, 2 do
  local found = redis.call('ZRANGEBYSCORE', KEYS[i + 1], '-inf', stamp, 'WITHSCORES', 'LIMIT', 0, PROMOTE_BATCH)
  for j = 1, #found, 2 do
    due[#due + 1] = {tonumber(found[j + 1]), found[j], i}
  end
end
if #due > 0 then
  table.sort(due, function(a, b)
    if a[1] ~= b[1] then
      return a[1] < b[1]
    end
    return a[2] < b[2]
  end)
  for k, retry in ipairs(due) do
    redis.call('ZREM', KEYS[retry[3] + 1], retry[2])
    redis.call('ZADD', KEYS[retry[3]], num(now + k - 1), retry[2])
  end
end

local lease = tonumber(ARGV[1])
local expires = num(now + lease)
local reply = {'', gone}
local claimed = 0
local limit = tonumber(ARGV[3])
while claimed < limit do
  local best_queue, best_id, best_score
  if #KEYS == 4 then
    -- One name: its head, taken in one command.
    local head = redis.call('ZPOPMIN', KEYS[3])
    if head[1] then
      best_queue, best_id, best_score = KEYS[3], head[1], tonumber(head[2])
    end
  else
    for i = 3, #KEYS, 2 do
      local head = redis.call('ZRANGE', KEYS[i], 0, 0, 'WITHSCORES')
      if head[1] then
        local score = tonumber(head[2])
        if not best_score or score < best_score then
          best_queue, best_id, best_score = KEYS[i], head[1], score
        end
      end
    end
    if best_id then
      redis.call('ZREM', best_queue, best_id)
    end
  end
  if not best_id then
    break
  end
  local job = prefix .. ':job:' .. best_id
  local f = redis.call('HMGET', job, 'n', 'rc', 'mr', 'in', 'ac', 'sa', 'cr', 's', 'w')
  if f[8] == 'InProgress' or f[8] == 'Completed' or f[8] == 'Failed' or f[8] == 'Canceled' then
    -- Not runnable (Lifecycle::apply(Claim) refuses it): leave it be.
  elseif not f[1] then
    -- The hash is gone while its id was queued: evicted by a Redis whose
    -- maxmemory-policy is not noeviction. Reported to the caller.
    local vanished = reply[2]
    vanished[#vanished + 1] = best_id
  else
    local token = redis.call('INCR', KEYS[2])
    if f[6] then
      redis.call('HSET', job, 's', 'InProgress', 't', token, 'ci', ARGV[5], 'cl', stamp, 'lu', stamp, 'na', '')
    else
      redis.call('HSET', job, 's', 'InProgress', 't', token, 'ci', ARGV[5], 'cl', stamp, 'lu', stamp, 'na', '', 'sa', stamp)
    end
    redis.call('ZADD', KEYS[1], expires, best_id)
    announce(prefix, best_id, f[9], now, false)
    claimed = claimed + 1
    -- A queue's score is when the job joined it.
    reply[#reply + 1] = taken(best_id, token, f, lease, math.max(0, now - best_score))
  end
end

if claimed == 0 then
  local next_due
  for i = 4, #KEYS, 2 do
    local later = redis.call('ZRANGE', KEYS[i], 0, 0, 'WITHSCORES')
    if later[1] then
      local at = tonumber(later[2])
      if not next_due or at < next_due then
        next_due = at
      end
    end
  end
  if next_due then
    reply[1] = math.max(0, next_due - now)
  end
end
return reply
