-- Deletes the finished jobs among ARGV[2..] as their retention would: the
-- hash, the attempts, the idempotency keys that still name the job, and
-- the entry in its name's index. A job that has not finished is left.
-- ARGV: 1 prefix, 2.. ids
-- Returns the ids deleted.
local prefix = ARGV[1]
local deleted = {}
for i = 2, #ARGV do
  local id = ARGV[i]
  local job = prefix .. ':job:' .. id
  local f = redis.call('HMGET', job, 's', 'n', 'k')
  if f[1] == 'Completed' or f[1] == 'Failed' or f[1] == 'Canceled' then
    for key in each_key(f[3]) do
      local named = prefix .. ':key:' .. key
      if redis.call('GET', named) == id then
        redis.call('DEL', named)
      end
    end
    redis.call('DEL', job, job .. ':attempts')
    redis.call('ZREM', prefix .. ':jobs:' .. f[2], id)
    deleted[#deleted + 1] = id
  end
end
return deleted
