//! The store's SQL, written once per schema, and what recovery writes.

use std::sync::Arc;

use sqlx::AssertSqlSafe;

use super::row::json;
use crate::job::{ErrorInfo, JobStatus, LEASE_EXPIRED, lost_too_often};
use crate::store::{MAX_LOST_LEASES, StoreError};

/// The store's statements, written once for its schema. The schema is the
/// only text they take from outside, and it is a checked identifier
/// ([`schema::valid_schema`]): every other value is a bound parameter.
#[derive(Debug)]
pub(super) struct Statements {
    pub(super) get: Arc<str>,
    /// The jobs of `ids`, as `get` reads each.
    pub(super) get_many: Arc<str>,
    /// A listing page of one status: name, status, cursor, limit.
    pub(super) list_one: Arc<str>,
    /// A listing page of every status: name, cursor, limit.
    pub(super) list_all: Arc<str>,
    /// Deletes the finished jobs of `ids`.
    pub(super) delete_finished: Arc<str>,
    pub(super) renew: Arc<str>,
    pub(super) progress: Arc<str>,
    pub(super) cancel: Arc<str>,
    pub(super) retry: Arc<str>,
    /// How the queues of some names stand: runnable jobs and the oldest's
    /// age, from the claim's two partial indexes.
    pub(super) queues: Arc<str>,
    pub(super) watch: Arc<str>,
    /// Drops the watches that ran out (by `maintain`).
    pub(super) unwatch: Arc<str>,
    /// The `last_updated_at` and cancel mark of listened jobs, for the
    /// poll that stands in for `LISTEN` behind a pooler.
    pub(super) marks: Arc<str>,
    pub(super) recover: Arc<str>,
    pub(super) purge: Arc<str>,
    /// Run by `maintain` after many transitions: each leaves dead index
    /// entries that claims would otherwise walk (autovacuum may be off,
    /// or behind).
    pub(super) vacuum: Arc<str>,
}

impl Statements {
    pub(super) fn new(s: &str) -> Self {
        Self {
            get: format!(
                "SELECT j.*, array(SELECT a.record FROM {s}.attempts a WHERE a.job_id = j.id \
                 ORDER BY a.attempt) AS attempt_records \
                 FROM {s}.jobs j WHERE j.id = $1 \
                 AND (j.expires_at IS NULL OR j.expires_at > {s}.now_us())"
            )
            .into(),
            get_many: format!(
                "SELECT j.*, array(SELECT a.record FROM {s}.attempts a WHERE a.job_id = j.id \
                 ORDER BY a.attempt) AS attempt_records \
                 FROM {s}.jobs j WHERE j.id = ANY ($1) \
                 AND (j.expires_at IS NULL OR j.expires_at > {s}.now_us()) \
                 ORDER BY j.created_at DESC, j.id DESC"
            )
            .into(),
            list_one: format!(
                "SELECT created_at, id FROM ({}) p",
                page(s, "$2", "$3", "$4", "$5")
            )
            .into(),
            list_all: {
                let branches: Vec<String> = JobStatus::ALL
                    .iter()
                    .map(|status| {
                        format!(
                            "({})",
                            page(s, &format!("'{}'", status.as_str()), "$2", "$3", "$4")
                        )
                    })
                    .collect();
                format!(
                    "SELECT created_at, id FROM ({}) p ORDER BY created_at DESC, id DESC LIMIT $4",
                    branches.join(" UNION ALL ")
                )
                .into()
            },
            delete_finished: format!(
                "DELETE FROM {s}.jobs WHERE id = ANY ($1) \
                 AND status IN ('Completed', 'Failed', 'Canceled') RETURNING id"
            )
            .into(),
            vacuum: format!("VACUUM (SKIP_LOCKED) {s}.jobs").into(),
            renew: format!(
                "UPDATE {s}.jobs SET lease_expires_at = {s}.now_us() + $3 \
                 WHERE id = $1 AND token = $2 AND status = 'InProgress' RETURNING cancel_requested"
            )
            .into(),
            progress: format!("SELECT {s}.progress_job($1, $2, $3) AS stored").into(),
            cancel: format!("SELECT {s}.cancel_job($1, $2) AS outcome").into(),
            retry: format!("SELECT {s}.retry_job($1) AS outcome").into(),
            queues: format!(
                "WITH t AS (SELECT {s}.now_us() AS now) \
                 SELECT (SELECT count(*) FROM {s}.jobs j WHERE j.ready AND j.name = n.name) \
                   + (SELECT count(*) FROM {s}.jobs j WHERE j.status = 'Scheduled' AND NOT j.ready \
                      AND j.name = n.name AND j.run_at <= t.now) AS runnable, \
                 t.now - least( \
                   (SELECT min(j.run_at) FROM {s}.jobs j WHERE j.ready AND j.name = n.name), \
                   (SELECT min(j.run_at) FROM {s}.jobs j WHERE j.status = 'Scheduled' \
                      AND NOT j.ready AND j.name = n.name AND j.run_at <= t.now)) AS oldest \
                 FROM t, unnest($1::text[]) WITH ORDINALITY AS n(name, place) ORDER BY n.place"
            )
            .into(),
            watch: format!(
                "INSERT INTO {s}.watches (id, until) VALUES ($1, {s}.now_us() + $2) \
                 ON CONFLICT (id) DO UPDATE SET until = greatest({s}.watches.until, excluded.until)"
            )
            .into(),
            unwatch: format!("DELETE FROM {s}.watches WHERE until <= {s}.now_us()").into(),
            marks: format!(
                "SELECT id, last_updated_at, cancel_requested FROM {s}.jobs WHERE id = ANY ($1)"
            )
            .into(),
            recover: format!("SELECT * FROM {s}.recover_leases({s}.now_us(), $1, $2, $3, $4)")
                .into(),
            purge: format!(
                "DELETE FROM {s}.jobs WHERE id IN (SELECT id FROM {s}.jobs \
                 WHERE expires_at <= {s}.now_us() LIMIT $1)"
            )
            .into(),
        }
    }
}

/// The newest `limit` jobs of `name` in `status` before the cursor
/// (`created_at`, `id`), from the `jobs_by_name` index.
fn page(s: &str, status: &str, created_at: &str, id: &str, limit: &str) -> String {
    format!(
        "SELECT created_at, id FROM {s}.jobs WHERE name = $1 AND status = {status} \
         AND (created_at, id) < ({created_at}, {id}) \
         AND (expires_at IS NULL OR expires_at > {s}.now_us()) \
         ORDER BY created_at DESC, id DESC LIMIT {limit}"
    )
}

/// What `recover_leases` writes, computed once: the error of an interrupted
/// attempt, and of a job that lost its worker too often.
#[derive(Debug)]
pub(super) struct Recovery {
    pub(super) max_lost: i32,
    pub(super) interrupted: String,
    pub(super) lost: String,
}

impl Recovery {
    pub(super) fn new() -> Result<Self, StoreError> {
        Ok(Self {
            max_lost: i32::try_from(MAX_LOST_LEASES).unwrap_or(i32::MAX),
            interrupted: json(&ErrorInfo::new(ErrorInfo::INTERRUPTED, LEASE_EXPIRED))?,
            lost: json(&lost_too_often())?,
        })
    }
}

/// A statement of [`Statements`], for sqlx.
pub(super) fn sql(statement: &Arc<str>) -> AssertSqlSafe<Arc<str>> {
    AssertSqlSafe(statement.clone())
}
