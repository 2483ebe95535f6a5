-- Shared by every script (prepended by scripts.rs). Each script mirrors one
-- transition of the Rust state machine (job/lifecycle.rs); the model-based
-- test checks that they agree.

-- Redis TIME in microseconds: the one clock of every lease and schedule.
local function now_us()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000000 + tonumber(t[2])
end

-- Numbers as integer text: Lua's "%.14g" would round microsecond
-- timestamps. (redis.call writes a plain number with "%.17g", exact but as
-- slow: a timestamp used twice is formatted once, as a `stamp`.)
local function num(n)
  return string.format('%.0f', n)
end

-- The idempotency keys of a job, stored newline-separated in its field 'k'.
local function each_key(keys)
  return string.gmatch(keys or '', '[^\n]+')
end

-- Announces a change of job `id` to every process, if one of them watches
-- it (`w`, its field 'w': until when, in us) or if `always` (a cancel, which
-- the job's worker must hear of).
local function announce(prefix, id, w, now, always)
  if always then
    redis.call('PUBLISH', prefix .. ':changed', CANCEL_PREFIX .. id)
  elseif w and w ~= '' and tonumber(w) > now then
    redis.call('PUBLISH', prefix .. ':changed', id)
  end
end

-- Gives a finished job, its attempts and its keys their retention.
local function retain(prefix, job, keys, ms)
  redis.call('PEXPIRE', job, ms)
  redis.call('PEXPIRE', job .. ':attempts', ms)
  for key in each_key(keys) do
    redis.call('PEXPIRE', prefix .. ':key:' .. key, ms)
  end
end

-- Lifecycle::apply(LeaseExpired) for every job of `running` whose lease
-- ended by `now` (at most RECOVER_BATCH): an Interrupted attempt, then the
-- queue, or Failed after MAX_LOST_LEASES lost leases (Canceled, if a cancel
-- was asked). `failed_ms` is how long
-- a failed job is kept. Returns the ids recovered, and the ids whose hash
-- was gone (evicted: reported, never counted as recovered). Cheap when
-- nothing expired: one look at the earliest lease.
local function recover_expired(running, prefix, wake, failed_ms, now)
  local recovered, vanished = {}, {}
  local first = redis.call('ZRANGE', running, 0, 0, 'WITHSCORES')
  if not first[2] or tonumber(first[2]) > now then
    return recovered, vanished
  end
  local stamp = num(now)
  local expired = redis.call('ZRANGEBYSCORE', running, '-inf', stamp, 'LIMIT', 0, RECOVER_BATCH)
  for _, id in ipairs(expired) do
    redis.call('ZREM', running, id)
    local job = prefix .. ':job:' .. id
    local f = redis.call('HMGET', job, 's', 'n', 'cl', 'k', 'ac', 'cq', 'w')
    if not f[1] then
      vanished[#vanished + 1] = id
    elseif f[1] == 'InProgress' then
      local number = (tonumber(f[5]) or 0) + 1
      redis.call('RPUSH', job .. ':attempts', '{"attempt":' .. num(number) .. ',"status":"Interrupted","startedAt":'
        .. (f[3] or stamp) .. ',"finishedAt":' .. stamp .. ',"result":null,"error":' .. INTERRUPTED_ERROR .. '}')
      local lost = redis.call('HINCRBY', job, 'll', 1)
      if f[6] == '1' then
        redis.call('HSET', job, 's', 'Canceled', 'e', CANCELED_ERROR, 'co', stamp, 'cl', '', 'lu', stamp, 'ac', num(number))
        retain(prefix, job, f[4], failed_ms)
      elseif lost >= MAX_LOST_LEASES then
        redis.call('HSET', job, 's', 'Failed', 'e', LOST_TOO_OFTEN_ERROR, 'co', stamp, 'cl', '', 'lu', stamp, 'ac', num(number))
        retain(prefix, job, f[4], failed_ms)
      else
        redis.call('HSET', job, 's', 'Queued', 'cl', '', 'lu', stamp, 'ac', num(number))
        redis.call('ZADD', prefix .. ':queue:' .. f[2], stamp, id)
        redis.call('PUBLISH', wake, f[2])
      end
      announce(prefix, id, f[7], now, false)
      recovered[#recovered + 1] = id
    end
  end
  return recovered, vanished
end
