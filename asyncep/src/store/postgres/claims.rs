//! Claims committed together: the claims of a process's workers that
//! arrive while others are on their way are made in one statement, which
//! calls `claim_jobs` once per claim (`CROSS JOIN LATERAL`), each under its
//! own claim id. So each claim keeps everything a claim alone has: its
//! limit, its own fencing tokens, and a repeat after a lost reply that
//! finds exactly the jobs it took. A later call in the statement sees what
//! the earlier ones took (the same transaction), so no job is taken twice.
//!
//! A batch that fails is rolled back whole and its claims are made again
//! one by one, each as a repeat: a claim whose batch did commit (the reply
//! was lost) gets the jobs it took, and none is left leased to nobody.

use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::{PgArguments, PgRow};
use sqlx::query::Query;
use sqlx::{PgPool, Postgres, Row};

use super::group::{Flush, Group, settle};
use super::row::error;
use super::statements::{Recovery, sql};
use crate::caller::Caller;
use crate::job::JobId;
use crate::store::{Claimed, ClaimedJob, Lease, StoreError};

/// One worker's claim: the arguments of `claim_jobs` that are not the
/// store's own.
pub(super) struct ClaimRow {
    pub(super) names: Vec<String>,
    pub(super) lease: i64,
    pub(super) limit: i32,
    pub(super) claim: uuid::Uuid,
    pub(super) repeat: bool,
    pub(super) recover: bool,
}

/// The rows `claim_jobs` answered one claim with.
pub(super) type ClaimAnswer = Vec<PgRow>;

/// The claim statements of one schema, and what recovery writes.
#[derive(Clone, Debug)]
pub(super) struct ClaimStatements {
    one: Arc<str>,
    many: Arc<str>,
    pub(super) failed_ms: i64,
    pub(super) recovery: Arc<Recovery>,
}

impl ClaimStatements {
    pub(super) fn new(s: &str, failed_ms: i64, recovery: Arc<Recovery>) -> Self {
        Self {
            one: format!("SELECT * FROM {s}.claim_jobs($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)")
                .into(),
            many: format!(
                "SELECT t.n AS claim_place, c.* FROM unnest($1::integer[], $2::uuid[], \
                 $3::boolean[], $4::boolean[]) WITH ORDINALITY AS t(lim, claim, repeat, recover, n) \
                 CROSS JOIN LATERAL {s}.claim_jobs($5, $6, t.lim, t.claim, t.repeat, $7, $8, $9, \
                 $10, t.recover) c ORDER BY t.n"
            )
            .into(),
            failed_ms,
            recovery,
        }
    }
}

pub(super) fn claims(pool: &PgPool, statements: ClaimStatements) -> Group<ClaimRow, ClaimAnswer> {
    let pool = pool.clone();
    let flush: Flush<ClaimRow, ClaimAnswer> = Arc::new(move |rows| {
        let (pool, statements) = (pool.clone(), statements.clone());
        Box::pin(async move { claim_rows(&pool, &statements, rows).await })
    });
    // A claim sends a few dozen bytes: the batch is bounded by its count.
    Group::new(flush, |_| 64)
}

async fn claim_rows(
    pool: &PgPool,
    statements: &ClaimStatements,
    rows: Vec<ClaimRow>,
) -> Vec<Result<ClaimAnswer, StoreError>> {
    let alike = rows
        .iter()
        .all(|r| r.names == rows[0].names && r.lease == rows[0].lease);
    if rows.len() > 1 && alike {
        // Unreachable, or its answer lost: each worker repeats its claim
        // under its id, as for a claim of its own.
        let batch = claim_many(pool, statements, &rows).await;
        if let Some(answers) = settle("claims", rows.len(), batch) {
            return answers;
        }
    }
    let mut answers = Vec::with_capacity(rows.len());
    for row in &rows {
        // Alone after a failed batch, as a repeat: it finds what the batch
        // took if the batch committed after all.
        let repeat = row.repeat || rows.len() > 1;
        answers.push(claim_one(pool, statements, row, repeat).await);
    }
    answers
}

async fn claim_many(
    pool: &PgPool,
    statements: &ClaimStatements,
    rows: &[ClaimRow],
) -> Result<Vec<ClaimAnswer>, StoreError> {
    let found = sqlx::query(sql(&statements.many))
        .bind(rows.iter().map(|r| r.limit).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.claim).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.repeat).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.recover).collect::<Vec<_>>());
    let found = bind_shared(found, &rows[0], statements)
        .fetch_all(pool)
        .await
        .map_err(error)?;
    let mut answers: Vec<ClaimAnswer> = rows.iter().map(|_| Vec::new()).collect();
    for row in found {
        let place: i64 = row.try_get("claim_place").map_err(error)?;
        let answer = usize::try_from(place - 1)
            .ok()
            .and_then(|i| answers.get_mut(i))
            .ok_or_else(|| StoreError::Corrupt(format!("a claim answered for claim {place}")))?;
        answer.push(row);
    }
    Ok(answers)
}

/// Binds what the claims of a batch share, after their own arrays: the
/// names, the lease, and what recovery writes.
pub(super) fn bind_shared<'q>(
    query: Query<'q, Postgres, PgArguments>,
    row: &'q ClaimRow,
    statements: &'q ClaimStatements,
) -> Query<'q, Postgres, PgArguments> {
    let recovery = &statements.recovery;
    query
        .bind(&row.names)
        .bind(row.lease)
        .bind(statements.failed_ms)
        .bind(recovery.max_lost)
        .bind(recovery.interrupted.as_str())
        .bind(recovery.lost.as_str())
}

pub(super) async fn claim_one(
    pool: &PgPool,
    statements: &ClaimStatements,
    row: &ClaimRow,
    repeat: bool,
) -> Result<ClaimAnswer, StoreError> {
    let recovery = &statements.recovery;
    sqlx::query(sql(&statements.one))
        .bind(&row.names)
        .bind(row.lease)
        .bind(row.limit)
        .bind(row.claim)
        .bind(repeat)
        .bind(statements.failed_ms)
        .bind(recovery.max_lost)
        .bind(recovery.interrupted.as_str())
        .bind(recovery.lost.as_str())
        .bind(row.recover)
        .fetch_all(pool)
        .await
        .map_err(error)
}

/// The jobs (or the next due time) in `claim_jobs`' rows for one claim.
pub(super) fn decode(rows: Vec<PgRow>) -> Result<Claimed, StoreError> {
    let mut claimed = Claimed::default();
    for row in rows {
        let id: Option<uuid::Uuid> = row.try_get("id").map_err(error)?;
        let Some(id) = id else {
            let due: Option<i64> = row.try_get("next_due").map_err(error)?;
            claimed.next_due = due.map(|d| Duration::from_micros(u64::try_from(d).unwrap_or(0)));
            continue;
        };
        let id = JobId::from(id);
        let input: Option<String> = row.try_get("input").map_err(error)?;
        let input = serde_json::from_str(input.as_deref().unwrap_or("{}")).map_err(|e| {
            StoreError::Corrupt(format!("job {id}: the input is not readable: {e}"))
        })?;
        let number = |column: &str| -> Result<u32, StoreError> {
            let value: i32 = row.try_get(column).map_err(error)?;
            Ok(u32::try_from(value).unwrap_or(0))
        };
        let token: i64 = row.try_get("token").map_err(error)?;
        let left: i64 = row.try_get("lease_left").map_err(error)?;
        let waited: i64 = row.try_get("waited").map_err(error)?;
        let caller: Option<String> = row.try_get("caller").map_err(error)?;
        claimed.jobs.push(ClaimedJob {
            id,
            name: row.try_get::<String, _>("name").map_err(error)?.into(),
            attempt: number("attempts")? + 1,
            retry_count: number("retry_count")?,
            max_retries: number("max_retries")?,
            input: Arc::new(input),
            caller: caller.map(Caller::new),
            lease: Lease {
                job_id: id,
                token: u64::try_from(token).unwrap_or(0),
                ttl: Duration::from_micros(u64::try_from(left).unwrap_or(0)),
            },
            waited: Duration::from_micros(u64::try_from(waited).unwrap_or(0)),
        });
    }
    claimed.jobs.sort_by_key(|job| job.lease.token);
    Ok(claimed)
}
