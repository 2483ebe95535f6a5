//! A worker's turn between two jobs: the finish of the job it ran and the
//! claim of its next, in one statement and one commit, and the turns of
//! several workers in one batch ([`Group`]). A worker then waits for one
//! commit per job instead of two.
//!
//! Each row calls `finish_job` and then `claim_jobs` (the claim reads the
//! finish's answer, so it runs after it), both exactly as alone. A batch
//! that fails is rolled back whole and its rows done again one by one: the
//! finish, then the claim as a repeat (both find their own earlier effect
//! if the batch committed after all).

use std::sync::Arc;

use sqlx::postgres::PgRow;
use sqlx::{PgPool, Row};

use super::claims::{ClaimAnswer, ClaimRow, ClaimStatements, bind_shared, claim_one};
use super::group::{Flush, Group};
use super::row::error;
use super::statements::sql;
use super::writes::{FinishRow, WriteStatements, finish_one};
use crate::store::StoreError;

/// A finish and the claim that follows it.
pub(super) struct TurnRow {
    pub(super) finish: FinishRow,
    pub(super) claim: ClaimRow,
}

/// What `finish_job` answered, and what the claim did: `None` when it was
/// not made (the finish failed in a way that may pass).
pub(super) struct TurnAnswer {
    pub(super) done: Result<i32, StoreError>,
    pub(super) claimed: Option<Result<ClaimAnswer, StoreError>>,
}

#[derive(Clone)]
struct TurnStatements {
    many: Arc<str>,
    writes: WriteStatements,
    claims: ClaimStatements,
    retention: [i64; 2],
}

/// The error of a claim whose answer was lost with its batch's.
pub(super) fn unanswered() -> StoreError {
    StoreError::OutcomeUnknown {
        retry_after: std::time::Duration::from_secs(1),
        source: "the claim's answer was lost with its finish's".into(),
    }
}

pub(super) fn turns(
    s: &str,
    pool: &PgPool,
    writes: WriteStatements,
    claims: ClaimStatements,
    retention: [i64; 2],
) -> Group<TurnRow, TurnAnswer> {
    let statements = TurnStatements {
        many: format!(
            "SELECT t.n AS claim_place, f.done, c.* FROM unnest($1::uuid[], $2::bigint[], \
             $3::text[], $4::text[], $5::text[], $6::text[], $7::bigint[], $8::integer[], \
             $9::uuid[], $10::boolean[], $11::boolean[]) WITH ORDINALITY \
             AS t(id, token, step, record, result, error, delay, lim, claim, repeat, recover, n) \
             CROSS JOIN LATERAL {s}.finish_job(t.id, t.token, t.step, t.record, t.result, \
             t.error, t.delay, $12, $13) AS f(done) \
             CROSS JOIN LATERAL {s}.claim_jobs($14, $15, t.lim, t.claim, t.repeat, $16, $17, \
             $18, $19, t.recover AND f.done IS NOT NULL) c ORDER BY t.n"
        )
        .into(),
        writes,
        claims,
        retention,
    };
    let pool = pool.clone();
    let flush: Flush<TurnRow, TurnAnswer> = Arc::new(move |rows| {
        let (pool, statements) = (pool.clone(), statements.clone());
        Box::pin(async move {
            turn_rows(&pool, &statements, rows)
                .await
                .into_iter()
                .map(Ok)
                .collect()
        })
    });
    Group::new(flush, |row| row.finish.size())
}

async fn turn_rows(
    pool: &PgPool,
    statements: &TurnStatements,
    rows: Vec<TurnRow>,
) -> Vec<TurnAnswer> {
    let alike = rows
        .iter()
        .all(|r| r.claim.names == rows[0].claim.names && r.claim.lease == rows[0].claim.lease);
    if alike {
        match turn_many(pool, statements, &rows).await {
            Ok(answers) => return answers,
            // Unreachable, or its answer lost: each worker tries its
            // finish again, and repeats its claim if it may have been made.
            Err(failure) if failure.is_transient() => {
                let sent = matches!(failure, StoreError::OutcomeUnknown { .. });
                return rows
                    .iter()
                    .map(|_| TurnAnswer {
                        done: Err(failure.shared()),
                        claimed: sent.then(|| Err(unanswered())),
                    })
                    .collect();
            }
            Err(failure) => {
                tracing::debug!(error = %failure, rows = rows.len(), "a batch of turns failed; taking them one by one");
            }
        }
    }
    let mut answers = Vec::with_capacity(rows.len());
    for row in &rows {
        let done = finish_one(pool, &statements.writes, &row.finish, statements.retention).await;
        let claimed = if done.as_ref().is_err_and(StoreError::is_transient) {
            // The batch may have committed its claim: the worker repeats
            // it under its id rather than making a fresh one.
            alike.then(|| Err(unanswered()))
        } else {
            Some(claim_one(pool, &statements.claims, &row.claim, true).await)
        };
        answers.push(TurnAnswer { done, claimed });
    }
    answers
}

async fn turn_many(
    pool: &PgPool,
    statements: &TurnStatements,
    rows: &[TurnRow],
) -> Result<Vec<TurnAnswer>, StoreError> {
    let finishes = || rows.iter().map(|r| &r.finish);
    let claims = || rows.iter().map(|r| &r.claim);
    let found = sqlx::query(sql(&statements.many))
        .bind(finishes().map(|r| r.id).collect::<Vec<_>>())
        .bind(finishes().map(|r| r.token).collect::<Vec<_>>())
        .bind(finishes().map(|r| r.step).collect::<Vec<_>>())
        .bind(finishes().map(|r| r.record.as_str()).collect::<Vec<_>>())
        .bind(finishes().map(|r| r.result.as_deref()).collect::<Vec<_>>())
        .bind(finishes().map(|r| r.error.as_deref()).collect::<Vec<_>>())
        .bind(finishes().map(|r| r.delay).collect::<Vec<_>>())
        .bind(claims().map(|r| r.limit).collect::<Vec<_>>())
        .bind(claims().map(|r| r.claim).collect::<Vec<_>>())
        .bind(claims().map(|r| r.repeat).collect::<Vec<_>>())
        .bind(claims().map(|r| r.recover).collect::<Vec<_>>())
        .bind(statements.retention[0])
        .bind(statements.retention[1]);
    let found = bind_shared(found, &rows[0].claim, &statements.claims)
        .fetch_all(pool)
        .await
        .map_err(error)?;
    let mut answers: Vec<(Option<i32>, Vec<PgRow>)> =
        rows.iter().map(|_| (None, Vec::new())).collect();
    for row in found {
        let place: i64 = row.try_get("claim_place").map_err(error)?;
        let done: i32 = row.try_get("done").map_err(error)?;
        let answer = usize::try_from(place - 1)
            .ok()
            .and_then(|i| answers.get_mut(i))
            .ok_or_else(|| StoreError::Corrupt(format!("a turn answered for turn {place}")))?;
        answer.0 = Some(done);
        answer.1.push(row);
    }
    answers
        .into_iter()
        .map(|(done, claimed)| match done {
            Some(done) => Ok(TurnAnswer {
                done: Ok(done),
                claimed: Some(Ok(claimed)),
            }),
            // `claim_jobs` answers every claim with a row at least.
            None => Err(StoreError::Corrupt("a turn had no answer".into())),
        })
        .collect()
}
