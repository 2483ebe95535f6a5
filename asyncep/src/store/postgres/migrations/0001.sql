CREATE SCHEMA IF NOT EXISTS {schema};

CREATE SEQUENCE {schema}.tokens;
CREATE SEQUENCE {schema}.order_seq;

CREATE FUNCTION {schema}.now_us() RETURNS bigint LANGUAGE sql VOLATILE AS
  $$ SELECT (extract(epoch FROM clock_timestamp()) * 1000000)::bigint $$;

CREATE TABLE {schema}.jobs (
  id uuid PRIMARY KEY,
  name text NOT NULL,
  caller text,
  status text NOT NULL,
  retry_count integer NOT NULL DEFAULT 0,
  max_retries integer NOT NULL,
  attempts integer NOT NULL DEFAULT 0,
  lost_leases integer NOT NULL DEFAULT 0,
  token bigint NOT NULL DEFAULT 0,
  finished_token bigint NOT NULL DEFAULT 0,
  claim_id uuid,
  input text,
  fingerprint bytea,
  result text,
  error text,
  created_at bigint NOT NULL,
  started_at bigint,
  completed_at bigint,
  last_updated_at bigint NOT NULL,
  next_attempt_at bigint,
  claimed_at bigint,
  run_at bigint,
  ready boolean NOT NULL DEFAULT false,
  seq bigint NOT NULL DEFAULT 0,
  lease_expires_at bigint,
  expires_at bigint
);
CREATE INDEX jobs_ready ON {schema}.jobs (name, run_at, seq) WHERE ready;
CREATE INDEX jobs_scheduled ON {schema}.jobs (name, run_at) WHERE status = 'Scheduled' AND NOT ready;
CREATE INDEX jobs_leases ON {schema}.jobs (lease_expires_at, id) WHERE status = 'InProgress';
CREATE INDEX jobs_retention ON {schema}.jobs (expires_at) WHERE expires_at IS NOT NULL;

CREATE TABLE {schema}.attempts (
  job_id uuid NOT NULL REFERENCES {schema}.jobs (id) ON DELETE CASCADE,
  attempt integer NOT NULL,
  record text NOT NULL,
  PRIMARY KEY (job_id, attempt)
);

CREATE TABLE {schema}.keys (
  scoped_key text PRIMARY KEY,
  job_id uuid NOT NULL REFERENCES {schema}.jobs (id) ON DELETE CASCADE
);
CREATE INDEX keys_job ON {schema}.keys (job_id);

-- Each function below is one atomic store operation, mirroring a transition
-- of the Rust state machine (job/lifecycle.rs) as the Redis scripts do; the
-- model-based test checks that they agree. Times are microseconds on the
-- database's clock.

-- create: the rule of store/repeat.rs. Returns 0 new, 1 repeat, 2 conflict,
-- 3 an id of another caller's job.
CREATE FUNCTION {schema}.create_job(p_id uuid, p_name text, p_max_retries integer, p_input text,
    p_fingerprint bytea, p_key text, p_caller text)
  RETURNS TABLE (outcome integer, job_id uuid, created bigint) LANGUAGE plpgsql AS $$
DECLARE
  v_now bigint := {schema}.now_us();
  v_keyed uuid;
  v_keyed_fp bytea;
  v_by_id boolean;
  v_by_id_fp bytea;
  v_by_id_caller text;
BEGIN
  IF p_key IS NOT NULL THEN
    PERFORM pg_advisory_xact_lock(hashtext('asyncep-key:' || p_key));
  END IF;
  PERFORM pg_advisory_xact_lock(hashtext('asyncep-id:' || p_id::text));
  DELETE FROM {schema}.jobs j WHERE j.id = p_id AND j.expires_at <= v_now;
  SELECT j.fingerprint, j.caller INTO v_by_id_fp, v_by_id_caller FROM {schema}.jobs j WHERE j.id = p_id;
  v_by_id := FOUND;
  IF v_by_id AND v_by_id_caller IS DISTINCT FROM p_caller THEN
    RETURN QUERY SELECT 3, NULL::uuid, NULL::bigint;
    RETURN;
  END IF;
  IF p_key IS NOT NULL THEN
    SELECT j.id, j.fingerprint INTO v_keyed, v_keyed_fp
      FROM {schema}.keys k JOIN {schema}.jobs j ON j.id = k.job_id
      WHERE k.scoped_key = p_key AND (j.expires_at IS NULL OR j.expires_at > v_now);
    IF FOUND THEN
      IF v_by_id AND v_keyed <> p_id THEN
        RETURN QUERY SELECT 2, v_keyed, NULL::bigint;
      ELSIF v_keyed_fp IS NOT NULL AND v_keyed_fp = p_fingerprint THEN
        RETURN QUERY SELECT 1, v_keyed, NULL::bigint;
      ELSE
        RETURN QUERY SELECT 2, v_keyed, NULL::bigint;
      END IF;
      RETURN;
    END IF;
  END IF;
  IF v_by_id THEN
    IF v_by_id_fp IS NOT DISTINCT FROM p_fingerprint THEN
      IF p_key IS NOT NULL THEN
        INSERT INTO {schema}.keys (scoped_key, job_id) VALUES (p_key, p_id)
          ON CONFLICT (scoped_key) DO UPDATE SET job_id = EXCLUDED.job_id;
      END IF;
      RETURN QUERY SELECT 1, p_id, NULL::bigint;
    ELSE
      RETURN QUERY SELECT 2, p_id, NULL::bigint;
    END IF;
    RETURN;
  END IF;
  INSERT INTO {schema}.jobs (id, name, caller, status, max_retries, input, fingerprint,
      created_at, last_updated_at, run_at, ready, seq)
    VALUES (p_id, p_name, p_caller, 'Queued', p_max_retries, p_input, p_fingerprint,
      v_now, v_now, v_now, true, nextval('{schema}.order_seq'));
  IF p_key IS NOT NULL THEN
    INSERT INTO {schema}.keys (scoped_key, job_id) VALUES (p_key, p_id)
      ON CONFLICT (scoped_key) DO UPDATE SET job_id = EXCLUDED.job_id;
  END IF;
  RETURN QUERY SELECT 0, p_id, v_now;
END $$;

-- Lifecycle::apply(LeaseExpired) for jobs whose lease ended by p_now,
-- earliest first. Returns the ids.
CREATE FUNCTION {schema}.recover_leases(p_now bigint, p_failed_ms bigint, p_max_lost integer,
    p_interrupted text, p_lost text)
  RETURNS SETOF uuid LANGUAGE plpgsql AS $$
DECLARE
  r record;
  v_number integer;
BEGIN
  FOR r IN SELECT j.id, j.claimed_at, j.attempts, j.lost_leases FROM {schema}.jobs j
      WHERE j.status = 'InProgress' AND j.lease_expires_at <= p_now
      ORDER BY j.lease_expires_at, j.id LIMIT 500 FOR UPDATE SKIP LOCKED LOOP
    v_number := r.attempts + 1;
    INSERT INTO {schema}.attempts (job_id, attempt, record) VALUES (r.id, v_number,
      '{"attempt":' || v_number || ',"status":"Interrupted","startedAt":' || coalesce(r.claimed_at, p_now)
      || ',"finishedAt":' || p_now || ',"result":null,"error":' || p_interrupted || '}');
    IF r.lost_leases + 1 >= p_max_lost THEN
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
    RETURN NEXT r.id;
  END LOOP;
END $$;

-- claim: a repeat finds its claim's live jobs; else recover expired leases,
-- promote the due retries of the names asked (earliest due first, a
-- microsecond apart), and take up to p_limit runnable jobs, oldest first,
-- each with a token from one sequence (Lifecycle::apply(Claim)). With no
-- job, one row of NULLs but next_due (microseconds from now, or NULL).
CREATE FUNCTION {schema}.claim_jobs(p_names text[], p_lease bigint, p_limit integer, p_claim uuid,
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
  FOR r IN SELECT j.id FROM {schema}.jobs j
      WHERE j.ready AND j.name = ANY (p_names)
      ORDER BY j.run_at, j.seq LIMIT p_limit FOR UPDATE SKIP LOCKED LOOP
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

-- finish: Lifecycle::apply(Finish). Returns 1, 2 for a finish recorded
-- before (a lost reply), 0 for a lost lease.
CREATE FUNCTION {schema}.finish_job(p_id uuid, p_token bigint, p_next text, p_record text,
    p_result text, p_error text, p_delay bigint, p_completed_ms bigint, p_failed_ms bigint)
  RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
  v_now bigint := {schema}.now_us();
  r record;
  v_number integer;
BEGIN
  SELECT j.status, j.token, j.finished_token, j.attempts INTO r FROM {schema}.jobs j
    WHERE j.id = p_id FOR UPDATE;
  IF NOT FOUND THEN
    RETURN 0;
  END IF;
  IF r.status <> 'InProgress' OR r.token <> p_token THEN
    IF p_token <> 0 AND r.finished_token = p_token THEN
      RETURN 2;
    END IF;
    RETURN 0;
  END IF;
  v_number := r.attempts + 1;
  INSERT INTO {schema}.attempts (job_id, attempt, record)
    VALUES (p_id, v_number, '{"attempt":' || v_number || ',' || substr(p_record, 2));
  IF p_next = 'complete' THEN
    UPDATE {schema}.jobs SET status = 'Completed', result = p_result, input = NULL,
        completed_at = v_now, last_updated_at = v_now, claimed_at = NULL, lease_expires_at = NULL,
        attempts = v_number, finished_token = p_token, expires_at = v_now + p_completed_ms * 1000
      WHERE id = p_id;
  ELSIF p_next = 'fail' THEN
    UPDATE {schema}.jobs SET status = 'Failed', error = p_error, completed_at = v_now,
        last_updated_at = v_now, claimed_at = NULL, lease_expires_at = NULL, attempts = v_number,
        finished_token = p_token, expires_at = v_now + p_failed_ms * 1000
      WHERE id = p_id;
  ELSIF p_next = 'retry' THEN
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
  RETURN 1;
END $$;
