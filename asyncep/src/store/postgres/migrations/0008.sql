-- Version 8. The operator's listing: a name's jobs of one status, newest
-- first. Every update of a job already moves it in the other indexes (its
-- status and readiness change), so this one costs an index insert per
-- transition, no more.
CREATE INDEX jobs_by_name ON {schema}.jobs (name, status, created_at DESC, id DESC);
