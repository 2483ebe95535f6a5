-- Version 4. Job control: a cancel mark, the latest progress, and
-- `watch_until`: while a waiter watches a job, every change of it is
-- announced by a NOTIFY on the changes channel (and every cancel, always,
-- so that the job's worker hears of it). Recovery, claims and finishes
-- announce; recovery and finish end a job whose cancel was asked
-- `Canceled`, as Lifecycle::apply does.
ALTER TABLE {schema}.jobs ADD COLUMN IF NOT EXISTS cancel_requested boolean NOT NULL DEFAULT false,
  ADD COLUMN IF NOT EXISTS progress text, ADD COLUMN IF NOT EXISTS watch_until bigint;

CREATE OR REPLACE FUNCTION {schema}.announce(p_id uuid, p_watch bigint, p_now bigint, p_cancel boolean)
  RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  IF p_cancel THEN
    PERFORM pg_notify('{changed}', '{cancel_prefix}' || p_id::text);
  ELSIF p_watch > p_now THEN
    PERFORM pg_notify('{changed}', p_id::text);
  END IF;
END $$;

CREATE OR REPLACE FUNCTION {schema}.recover_leases(p_now bigint, p_failed_ms bigint, p_max_lost integer,
    p_interrupted text, p_lost text)
  RETURNS SETOF uuid LANGUAGE plpgsql AS $$
DECLARE
  r record;
  v_number integer;
BEGIN
  FOR r IN SELECT j.id, j.claimed_at, j.attempts, j.lost_leases, j.cancel_requested, j.watch_until
      FROM {schema}.jobs j
      WHERE j.status = 'InProgress' AND j.lease_expires_at <= p_now
      ORDER BY j.lease_expires_at, j.id LIMIT 500 FOR UPDATE SKIP LOCKED LOOP
    v_number := r.attempts + 1;
    INSERT INTO {schema}.attempts (job_id, attempt, record) VALUES (r.id, v_number,
      '{"attempt":' || v_number || ',"status":"Interrupted","startedAt":' || coalesce(r.claimed_at, p_now)
      || ',"finishedAt":' || p_now || ',"result":null,"error":' || p_interrupted || '}');
    IF r.cancel_requested THEN
      UPDATE {schema}.jobs SET status = 'Canceled', error = {canceled}, completed_at = p_now,
          claimed_at = NULL, lease_expires_at = NULL, last_updated_at = p_now, attempts = v_number,
          lost_leases = lost_leases + 1, expires_at = p_now + p_failed_ms * 1000
        WHERE id = r.id;
    ELSIF r.lost_leases + 1 >= p_max_lost THEN
      UPDATE {schema}.jobs SET status = 'Failed', error = p_lost, completed_at = p_now,
          claimed_at = NULL, lease_expires_at = NULL, last_updated_at = p_now, attempts = v_number,
          lost_leases = lost_leases + 1, expires_at = p_now + p_failed_ms * 1000
        WHERE id = r.id;
    ELSE
      UPDATE {schema}.jobs SET status = 'Queued', ready = true, run_at = p_now,
          seq = nextval('{schema}.order_seq'), claimed_at = NULL, lease_expires_at = NULL,
          last_updated_at = p_now, attempts = v_number, lost_leases = lost_leases + 1
        WHERE id = r.id;
    END IF;
    PERFORM {schema}.announce(r.id, r.watch_until, p_now, false);
    RETURN NEXT r.id;
  END LOOP;
END $$;

CREATE OR REPLACE FUNCTION {schema}.claim_jobs(p_names text[], p_lease bigint, p_limit integer, p_claim uuid,
    p_repeat boolean, p_failed_ms bigint, p_max_lost integer, p_interrupted text, p_lost text,
    p_recover boolean)
  RETURNS TABLE (id uuid, name text, retry_count integer, max_retries integer, attempts integer,
    input text, caller text, token bigint, lease_left bigint, next_due bigint)
  LANGUAGE plpgsql AS $$
DECLARE
  v_now bigint := {schema}.now_us();
  r record;
  v_k integer := 0;
  v_token bigint;
  v_count integer := 0;
  v_watch bigint;
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
  FOR r IN SELECT c.id FROM unnest(p_names) AS n(name)
      CROSS JOIN LATERAL (SELECT j.id, j.run_at, j.seq FROM {schema}.jobs j
        WHERE j.ready AND j.name = n.name
        ORDER BY j.run_at, j.seq LIMIT p_limit FOR UPDATE SKIP LOCKED) c
      ORDER BY c.run_at, c.seq LIMIT p_limit LOOP
    v_token := nextval('{schema}.tokens');
    UPDATE {schema}.jobs SET status = 'InProgress', ready = false, run_at = NULL, token = v_token,
        claim_id = p_claim, started_at = coalesce(started_at, v_now), claimed_at = v_now,
        next_attempt_at = NULL, last_updated_at = v_now, lease_expires_at = v_now + p_lease
      WHERE {schema}.jobs.id = r.id
      RETURNING watch_until INTO v_watch;
    PERFORM {schema}.announce(r.id, v_watch, v_now, false);
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

-- finish: Lifecycle::apply(Finish). A job whose cancel was asked never runs
-- again: a retry or requeue ends it Canceled. Returns 1, 2 for a finish
-- recorded before (a lost reply), 0 for a lost lease.
CREATE OR REPLACE FUNCTION {schema}.finish_job(p_id uuid, p_token bigint, p_next text, p_record text,
    p_result text, p_error text, p_delay bigint, p_completed_ms bigint, p_failed_ms bigint)
  RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
  v_now bigint := {schema}.now_us();
  r record;
  v_number integer;
  v_next text := p_next;
BEGIN
  SELECT j.status, j.token, j.finished_token, j.attempts, j.cancel_requested, j.watch_until INTO r
    FROM {schema}.jobs j WHERE j.id = p_id FOR UPDATE;
  IF NOT FOUND THEN
    RETURN 0;
  END IF;
  IF r.status <> 'InProgress' OR r.token <> p_token THEN
    IF p_token <> 0 AND r.finished_token = p_token THEN
      RETURN 2;
    END IF;
    RETURN 0;
  END IF;
  IF r.cancel_requested AND v_next IN ('retry', 'requeue') THEN
    v_next := 'cancel';
  END IF;
  v_number := r.attempts + 1;
  INSERT INTO {schema}.attempts (job_id, attempt, record)
    VALUES (p_id, v_number, '{"attempt":' || v_number || ',' || substr(p_record, 2));
  IF v_next = 'complete' THEN
    UPDATE {schema}.jobs SET status = 'Completed', result = p_result, input = NULL,
        completed_at = v_now, last_updated_at = v_now, claimed_at = NULL, lease_expires_at = NULL,
        attempts = v_number, finished_token = p_token, expires_at = v_now + p_completed_ms * 1000
      WHERE id = p_id;
  ELSIF v_next = 'fail' THEN
    UPDATE {schema}.jobs SET status = 'Failed', error = p_error, completed_at = v_now,
        last_updated_at = v_now, claimed_at = NULL, lease_expires_at = NULL, attempts = v_number,
        finished_token = p_token, expires_at = v_now + p_failed_ms * 1000
      WHERE id = p_id;
  ELSIF v_next = 'cancel' THEN
    UPDATE {schema}.jobs SET status = 'Canceled', error = {canceled}, completed_at = v_now,
        last_updated_at = v_now, claimed_at = NULL, lease_expires_at = NULL, attempts = v_number,
        finished_token = p_token, expires_at = v_now + p_failed_ms * 1000
      WHERE id = p_id;
  ELSIF v_next = 'retry' THEN
    UPDATE {schema}.jobs SET status = 'Scheduled', ready = false, run_at = v_now + p_delay,
        next_attempt_at = v_now + p_delay, retry_count = retry_count + 1, last_updated_at = v_now,
        claimed_at = NULL, lease_expires_at = NULL, attempts = v_number, finished_token = p_token
      WHERE id = p_id;
  ELSE
    UPDATE {schema}.jobs SET status = 'Queued', ready = true, run_at = v_now,
        seq = nextval('{schema}.order_seq'), last_updated_at = v_now, claimed_at = NULL,
        lease_expires_at = NULL, attempts = v_number, finished_token = p_token
      WHERE id = p_id;
  END IF;
  PERFORM {schema}.announce(p_id, r.watch_until, v_now, false);
  RETURN 1;
END $$;

-- cancel: Lifecycle::apply(Cancel). Returns 0 when there is no such job, 1
-- when it changed, 2 when it was left as it is.
CREATE OR REPLACE FUNCTION {schema}.cancel_job(p_id uuid, p_failed_ms bigint)
  RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
  v_now bigint := {schema}.now_us();
  r record;
BEGIN
  SELECT j.status, j.cancel_requested, j.watch_until INTO r FROM {schema}.jobs j
    WHERE j.id = p_id AND (j.expires_at IS NULL OR j.expires_at > v_now) FOR UPDATE;
  IF NOT FOUND THEN
    RETURN 0;
  END IF;
  IF r.status IN ('Queued', 'Scheduled') THEN
    UPDATE {schema}.jobs SET status = 'Canceled', error = {canceled}, ready = false, run_at = NULL,
        next_attempt_at = NULL, completed_at = v_now, last_updated_at = v_now,
        expires_at = v_now + p_failed_ms * 1000
      WHERE id = p_id;
    PERFORM {schema}.announce(p_id, r.watch_until, v_now, false);
    RETURN 1;
  ELSIF r.status = 'InProgress' AND NOT r.cancel_requested THEN
    UPDATE {schema}.jobs SET cancel_requested = true, last_updated_at = v_now WHERE id = p_id;
    PERFORM {schema}.announce(p_id, r.watch_until, v_now, true);
    RETURN 1;
  END IF;
  RETURN 2;
END $$;

-- progress: the latest value, under the caller's lease. Returns whether
-- the lease was still the job's.
CREATE OR REPLACE FUNCTION {schema}.progress_job(p_id uuid, p_token bigint, p_progress text)
  RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
  v_now bigint := {schema}.now_us();
  v_watch bigint;
BEGIN
  UPDATE {schema}.jobs SET progress = p_progress, last_updated_at = v_now
    WHERE id = p_id AND token = p_token AND status = 'InProgress'
    RETURNING watch_until INTO v_watch;
  IF NOT FOUND THEN
    RETURN false;
  END IF;
  PERFORM {schema}.announce(p_id, v_watch, v_now, false);
  RETURN true;
END $$;
