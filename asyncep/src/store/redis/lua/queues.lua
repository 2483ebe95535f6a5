-- How the queues of the given names stand (JobStore::queue_depths): for
-- each name, the jobs in its ready queue plus its retries that fell due, and
-- how long the oldest of them has been runnable. Reads only, each an O(1) or
-- O(log n) look at a sorted set: ZCARD, ZCOUNT and the sets' heads.
-- KEYS: for each name: ready queue, scheduled set
-- Returns {runnable, oldest age in us or -1 for none, ...}, one pair per name.
local now = now_us()
local stamp = num(now)
local reply = {}
for i = 1, #KEYS, 2 do
  local runnable = redis.call('ZCARD', KEYS[i]) + redis.call('ZCOUNT', KEYS[i + 1], '-inf', stamp)
  local since
  local head = redis.call('ZRANGE', KEYS[i], 0, 0, 'WITHSCORES')
  if head[1] then
    since = tonumber(head[2])
  end
  local due = redis.call('ZRANGE', KEYS[i + 1], 0, 0, 'WITHSCORES')
  if due[1] and tonumber(due[2]) <= now and (not since or tonumber(due[2]) < since) then
    since = tonumber(due[2])
  end
  reply[#reply + 1] = runnable
  if since then
    reply[#reply + 1] = math.max(0, now - since)
  else
    reply[#reply + 1] = -1
  end
end
return reply
