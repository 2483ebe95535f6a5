-- A page of an operator's listing: the jobs of one name, newest first,
-- from the name's index (score: created at, in us; ties by id, as the
-- sorted set orders members), keeping those of the status asked for.
-- Entries whose job is gone (its retention ended) are dropped on the way.
-- KEYS: 1 the name's index
-- ARGV: 1 prefix, 2 status ('' = any), 3 the cursor's score ('' = from the
--       newest), 4 the cursor's id, 5 limit, 6 the most entries to look at
-- Returns {ids, last score, last id}: the last entry looked at when the
-- page stopped early ('' when the index was read to its end).
local index, prefix, status = KEYS[1], ARGV[1], ARGV[2]
local limit, budget = tonumber(ARGV[5]), tonumber(ARGV[6])
local found, dead, looked = {}, {}, 0
local last_score, last_id = '', ''

-- Looks at one entry; false once the page is full or the budget spent.
local function visit(id, score)
  looked = looked + 1
  last_score, last_id = score, id
  local s = redis.call('HGET', prefix .. ':job:' .. id, 's')
  if not s then
    dead[#dead + 1] = id
  elseif status == '' or s == status then
    found[#found + 1] = id
  end
  return #found < limit and looked < budget
end

local function finish(early)
  for _, id in ipairs(dead) do
    redis.call('ZREM', index, id)
  end
  if early then
    return {found, last_score, last_id}
  end
  return {found, '', ''}
end

local max = '+inf'
if ARGV[3] ~= '' then
  -- The cursor's own microsecond first: the ids below the cursor's.
  local same = redis.call('ZRANGEBYSCORE', index, ARGV[3], ARGV[3])
  for i = #same, 1, -1 do
    if same[i] < ARGV[4] and not visit(same[i], ARGV[3]) then
      return finish(true)
    end
  end
  max = '(' .. ARGV[3]
end
local offset = 0
while true do
  local batch = redis.call('ZREVRANGEBYSCORE', index, max, '-inf', 'WITHSCORES', 'LIMIT', offset, 100)
  if #batch == 0 then
    return finish(false)
  end
  for i = 1, #batch, 2 do
    if not visit(batch[i], batch[i + 1]) then
      return finish(true)
    end
  end
  offset = offset + #batch / 2
end
