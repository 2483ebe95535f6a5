-- Version 7. retry_job: Lifecycle::apply(Retry). A Failed job is queued again
-- at the end of its queue, with its full retry budget, its error, end time
-- and retention dropped, its attempts kept. Returns 0 for no such job (or
-- one whose retention ended), 2 when it was queued again, 1 when it was left
-- as it is (not Failed).
CREATE OR REPLACE FUNCTION {schema}.retry_job(p_id uuid)
  RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
  v_now bigint := {schema}.now_us();
  v_status text;
BEGIN
  SELECT j.status INTO v_status FROM {schema}.jobs j
    WHERE j.id = p_id AND (j.expires_at IS NULL OR j.expires_at > v_now) FOR UPDATE;
  IF NOT FOUND THEN
    RETURN 0;
  END IF;
  IF v_status <> 'Failed' THEN
    RETURN 1;
  END IF;
  UPDATE {schema}.jobs SET status = 'Queued', retry_count = 0, lost_leases = 0, error = NULL,
      completed_at = NULL, next_attempt_at = NULL, cancel_requested = false, expires_at = NULL,
      ready = true, run_at = v_now, seq = nextval('{schema}.order_seq'), last_updated_at = v_now
    WHERE id = p_id;
  PERFORM {schema}.announce(p_id, NULL, v_now, false);
  RETURN 2;
END $$;
