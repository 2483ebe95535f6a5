-- Hands back jobs whose lease ran out (the recovery every claim also does).
-- KEYS: 1 running set
-- ARGV: 1 prefix, 2 wake channel, 3 ms to keep a failed job
-- Returns {the ids recovered, the ids whose hash was gone}.
local recovered, vanished = recover_expired(KEYS[1], ARGV[1], ARGV[2], ARGV[3], now_us())
return {recovered, vanished}
