-- Hands back jobs whose lease ran out (the recovery every claim also does).
-- KEYS: 1 running set
-- ARGV: 1 prefix, 2 wake channel, 3 most jobs per call, 4 lost leases that
--       fail a job, 5 ms to keep a failed job, 6 the error JSON of such a
--       job, 7 the error JSON of an interrupted attempt
-- Returns the ids recovered.
return recover_expired(KEYS[1], ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4]), ARGV[5], ARGV[6], ARGV[7], now_us())
