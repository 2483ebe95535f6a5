-- Version 5. Who watches a job lives in a table of its own: version 4 wrote
-- `jobs.watch_until`, and that write locked the job's row, so a claim's
-- `FOR UPDATE SKIP LOCKED` could pass over a job just submitted with
-- `Prefer: wait` (the client then waited for the idle worker's next look).
-- `jobs.watch_until` is no longer read.
CREATE TABLE IF NOT EXISTS {schema}.watches (
  id uuid PRIMARY KEY,
  until bigint NOT NULL
);

CREATE OR REPLACE FUNCTION {schema}.announce(p_id uuid, p_watch bigint, p_now bigint, p_cancel boolean)
  RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  IF p_cancel THEN
    PERFORM pg_notify('{changed}', '{cancel_prefix}' || p_id::text);
  ELSIF EXISTS (SELECT 1 FROM {schema}.watches w WHERE w.id = p_id AND w.until > p_now) THEN
    PERFORM pg_notify('{changed}', p_id::text);
  END IF;
END $$;
