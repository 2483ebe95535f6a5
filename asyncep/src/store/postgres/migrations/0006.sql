-- Version 6. A claim tells how long each job waited to run (`waited`: from
-- its `run_at`, when it became runnable, to the claim), for the queue-wait
-- metric; its answer gains a column, so the function is made anew. A cancel
-- tells whether it ended the job (3) or marked a running one (1); 2 is still
-- "nothing changed". Neither reads `jobs.watch_until` (unused since 5).
DROP FUNCTION {schema}.claim_jobs(text[], bigint, integer, uuid, boolean, bigint, integer, text,
  text, boolean);

CREATE FUNCTION {schema}.claim_jobs(p_names text[], p_lease bigint, p_limit integer, p_claim uuid,
    p_repeat boolean, p_failed_ms bigint, p_max_lost integer, p_interrupted text, p_lost text,
    p_recover boolean)
  RETURNS TABLE (id uuid, name text, retry_count integer, max_retries integer, attempts integer,
    input text, caller text, token bigint, lease_left bigint, next_due bigint, waited bigint)
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
        j.token, j.lease_expires_at - v_now, NULL::bigint, 0::bigint
      FROM {schema}.jobs j
      WHERE j.status = 'InProgress' AND j.claim_id = p_claim AND j.lease_expires_at > v_now
      ORDER BY j.token;
    IF FOUND THEN
      RETURN;
    END IF;
  END IF;
  IF p_recover THEN
    PERFORM {schema}.recover_leases(v_now, p_failed_ms, p_max_lost, p_interrupted, p_lost);
  END IF;
  FOR r IN SELECT j.id FROM {schema}.jobs j
      WHERE j.status = 'Scheduled' AND NOT j.ready AND j.name = ANY (p_names) AND j.run_at <= v_now
      ORDER BY j.run_at, j.id LIMIT 100 FOR UPDATE SKIP LOCKED LOOP
    UPDATE {schema}.jobs SET ready = true, run_at = v_now + v_k, seq = nextval('{schema}.order_seq')
      WHERE {schema}.jobs.id = r.id;
    v_k := v_k + 1;
  END LOOP;
  FOR r IN SELECT c.id, c.run_at FROM unnest(p_names) AS n(name)
      CROSS JOIN LATERAL (SELECT j.id, j.run_at, j.seq FROM {schema}.jobs j
        WHERE j.ready AND j.name = n.name
        ORDER BY j.run_at, j.seq LIMIT p_limit FOR UPDATE SKIP LOCKED) c
      ORDER BY c.run_at, c.seq LIMIT p_limit LOOP
    v_token := nextval('{schema}.tokens');
    UPDATE {schema}.jobs SET status = 'InProgress', ready = false, run_at = NULL, token = v_token,
        claim_id = p_claim, started_at = coalesce(started_at, v_now), claimed_at = v_now,
        next_attempt_at = NULL, last_updated_at = v_now, lease_expires_at = v_now + p_lease
      WHERE {schema}.jobs.id = r.id;
    PERFORM {schema}.announce(r.id, NULL, v_now, false);
    v_count := v_count + 1;
    RETURN QUERY SELECT j.id, j.name, j.retry_count, j.max_retries, j.attempts, j.input, j.caller,
        j.token, p_lease, NULL::bigint, greatest(v_now - r.run_at, 0)
      FROM {schema}.jobs j WHERE j.id = r.id;
  END LOOP;
  IF v_count = 0 THEN
    RETURN QUERY SELECT NULL::uuid, NULL::text, NULL::integer, NULL::integer, NULL::integer,
        NULL::text, NULL::text, NULL::bigint, NULL::bigint,
        (SELECT greatest(min(j.run_at) - v_now, 0) FROM {schema}.jobs j
          WHERE j.status = 'Scheduled' AND NOT j.ready AND j.name = ANY (p_names)), NULL::bigint;
  END IF;
END $$;

CREATE OR REPLACE FUNCTION {schema}.cancel_job(p_id uuid, p_failed_ms bigint)
  RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
  v_now bigint := {schema}.now_us();
  r record;
BEGIN
  SELECT j.status, j.cancel_requested INTO r FROM {schema}.jobs j
    WHERE j.id = p_id AND (j.expires_at IS NULL OR j.expires_at > v_now) FOR UPDATE;
  IF NOT FOUND THEN
    RETURN 0;
  END IF;
  IF r.status IN ('Queued', 'Scheduled') THEN
    UPDATE {schema}.jobs SET status = 'Canceled', error = {canceled}, ready = false, run_at = NULL,
        next_attempt_at = NULL, completed_at = v_now, last_updated_at = v_now,
        expires_at = v_now + p_failed_ms * 1000
      WHERE id = p_id;
    PERFORM {schema}.announce(p_id, NULL, v_now, false);
    RETURN 3;
  ELSIF r.status = 'InProgress' AND NOT r.cancel_requested THEN
    UPDATE {schema}.jobs SET cancel_requested = true, last_updated_at = v_now WHERE id = p_id;
    PERFORM {schema}.announce(p_id, NULL, v_now, true);
    RETURN 1;
  END IF;
  RETURN 2;
END $$;
