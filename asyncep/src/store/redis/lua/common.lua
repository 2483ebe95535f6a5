-- Shared by every script (prepended by scripts.rs).
-- Redis TIME in microseconds: the one clock of every lease and schedule.
local function now_us()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000000 + tonumber(t[2])
end
-- Numbers go to Redis as integer strings: Lua's default "%.14g" would round
-- microsecond timestamps.
local function num(n)
  return string.format('%.0f', n)
end
