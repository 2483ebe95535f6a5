-- Version 2. claim: the runnable jobs are read one job name at a time, each
-- along the jobs_ready index in order, so a claim costs the same whatever
-- the backlog (version 1 matched `name = ANY (p_names)`, which sorted every
-- runnable job of the names at every claim).
--
-- claim: a repeat finds its claim's live jobs; else recover expired leases,
-- promote the due retries of the names asked (earliest due first, a
-- microsecond apart), and take up to p_limit runnable jobs, oldest first,
-- each with a token from one sequence (Lifecycle::apply(Claim)). With no
-- job, one row of NULLs but next_due (microseconds from now, or NULL).
CREATE OR REPLACE FUNCTION {schema}.claim_jobs(p_names text[], p_lease bigint, p_limit integer, p_claim uuid,
    p_repeat boolean, p_failed_ms bigint, p_max_lost integer, p_interrupted text, p_lost text)
  RETURNS TABLE (id uuid, name text, retry_count integer, max_retries integer, attempts integer,
    input text, caller text, token bigint, lease_left bigint, next_due bigint)
  LANGUAGE plpgsql AS $$
DECLARE
  v_now bigint := {schema}.now_us();
  r record;
  v_k integer := 0;
  v_token bigint;
  v_count integer := 0;
BEGIN
  IF p_repeat THEN
    RETURN QUERY SELECT j.id, j.name, j.retry_count, j.max_retries, j.attempts, j.input, j.caller,
        j.token, j.lease_expires_at - v_now, NULL::bigint
      FROM {schema}.jobs j
      WHERE j.status = 'InProgress' AND j.claim_id = p_claim AND j.lease_expires_at > v_now
      ORDER BY j.token;
    IF FOUND THEN
      RETURN;
    END IF;
  END IF;
  PERFORM {schema}.recover_leases(v_now, p_failed_ms, p_max_lost, p_interrupted, p_lost);
  FOR r IN SELECT j.id FROM {schema}.jobs j
      WHERE j.status = 'Scheduled' AND NOT j.ready AND j.name = ANY (p_names) AND j.run_at <= v_now
      ORDER BY j.run_at, j.id LIMIT 100 FOR UPDATE SKIP LOCKED LOOP
    UPDATE {schema}.jobs SET ready = true, run_at = v_now + v_k, seq = nextval('{schema}.order_seq')
      WHERE {schema}.jobs.id = r.id;
    v_k := v_k + 1;
  END LOOP;
  FOR r IN SELECT c.id FROM unnest(p_names) AS n(name)
      CROSS JOIN LATERAL (SELECT j.id, j.run_at, j.seq FROM {schema}.jobs j
        WHERE j.ready AND j.name = n.name
        ORDER BY j.run_at, j.seq LIMIT p_limit FOR UPDATE SKIP LOCKED) c
      ORDER BY c.run_at, c.seq LIMIT p_limit LOOP
    v_token := nextval('{schema}.tokens');
    UPDATE {schema}.jobs SET status = 'InProgress', ready = false, run_at = NULL, token = v_token,
        claim_id = p_claim, started_at = coalesce(started_at, v_now), claimed_at = v_now,
        next_attempt_at = NULL, last_updated_at = v_now, lease_expires_at = v_now + p_lease
      WHERE {schema}.jobs.id = r.id;
    v_count := v_count + 1;
    RETURN QUERY SELECT j.id, j.name, j.retry_count, j.max_retries, j.attempts, j.input, j.caller,
        j.token, p_lease, NULL::bigint
      FROM {schema}.jobs j WHERE j.id = r.id;
  END LOOP;
  IF v_count = 0 THEN
    RETURN QUERY SELECT NULL::uuid, NULL::text, NULL::integer, NULL::integer, NULL::integer,
        NULL::text, NULL::text, NULL::bigint, NULL::bigint,
        (SELECT greatest(min(j.run_at) - v_now, 0) FROM {schema}.jobs j
          WHERE j.status = 'Scheduled' AND NOT j.ready AND j.name = ANY (p_names));
  END IF;
END $$;
