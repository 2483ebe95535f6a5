//! The two writes on every job's path, creates and finishes, as rows that
//! [`Group`] commits many at a time: one statement calls the store's
//! function once per row (`CROSS JOIN LATERAL` over the rows' arrays), so
//! a batch is one round trip and one commit, and each row goes through
//! exactly the function a single write calls.
//!
//! A batch that PostgreSQL refuses (a deadlock with another transaction,
//! one row the function refuses) is rolled back whole, and its rows are
//! written again one by one: each caller gets its own row's answer. A batch
//! that could not be sent is answered as such to every caller at once, and
//! one whose answer was lost is sent once more (creates; finishes are tried
//! again by their workers). Both functions find their own earlier effect,
//! so a row written again is never done twice.

use std::sync::Arc;

use sqlx::{PgPool, Row};

use super::group::{Flush, Group, settle};
use super::row::error;
use super::statements::sql;
use crate::store::StoreError;

/// A job to insert: the arguments of `create_job`.
pub(super) struct CreateRow {
    pub(super) id: uuid::Uuid,
    pub(super) name: String,
    pub(super) max_retries: i32,
    pub(super) input: String,
    pub(super) fingerprint: Option<Vec<u8>>,
    pub(super) key: Option<String>,
    pub(super) caller: Option<String>,
}

impl CreateRow {
    /// About what the row adds to a batch's statement.
    fn size(&self) -> usize {
        let text = |t: &Option<String>| t.as_ref().map_or(0, String::len);
        64 + self.name.len()
            + self.input.len()
            + self.fingerprint.as_ref().map_or(0, Vec::len)
            + text(&self.key)
            + text(&self.caller)
    }
}

/// What `create_job` answered: its outcome code, the job it found or made,
/// and when a new one was created.
pub(super) struct CreateAnswer {
    pub(super) outcome: i32,
    pub(super) job_id: Option<uuid::Uuid>,
    pub(super) created: Option<i64>,
}

impl CreateAnswer {
    /// `create_job` made the job.
    pub(super) const NEW: i32 = 0;
    /// `create_job` found the job a repeat names.
    pub(super) const EXISTING: i32 = 1;
}

/// An attempt to record and the step after it: the arguments of
/// `finish_job` but the retention, which is the store's.
pub(super) struct FinishRow {
    pub(super) id: uuid::Uuid,
    pub(super) token: i64,
    pub(super) step: &'static str,
    pub(super) record: String,
    pub(super) result: Option<String>,
    pub(super) error: Option<String>,
    pub(super) delay: i64,
}

impl FinishRow {
    /// About what the row adds to a batch's statement.
    pub(super) fn size(&self) -> usize {
        let text = |t: &Option<String>| t.as_ref().map_or(0, String::len);
        64 + self.record.len() + text(&self.result) + text(&self.error)
    }
}

/// The statements of one schema's writes, single and batched.
#[derive(Clone, Debug)]
pub(super) struct WriteStatements {
    pub(super) create: Arc<str>,
    pub(super) create_many: Arc<str>,
    pub(super) finish: Arc<str>,
    pub(super) finish_many: Arc<str>,
}

impl WriteStatements {
    pub(super) fn new(s: &str) -> Self {
        Self {
            create: format!(
                "SELECT outcome, job_id, created FROM {s}.create_job($1, $2, $3, $4, $5, $6, $7)"
            )
            .into(),
            create_many: format!(
                "SELECT c.outcome, c.job_id, c.created FROM unnest($1::uuid[], $2::text[], \
                 $3::integer[], $4::text[], $5::bytea[], $6::text[], $7::text[]) WITH ORDINALITY \
                 AS t(id, name, max_retries, input, fingerprint, key, caller, n) \
                 CROSS JOIN LATERAL {s}.create_job(t.id, t.name, t.max_retries, t.input, \
                 t.fingerprint, t.key, t.caller) c ORDER BY t.n"
            )
            .into(),
            finish: format!("SELECT {s}.finish_job($1, $2, $3, $4, $5, $6, $7, $8, $9) AS done")
                .into(),
            finish_many: format!(
                "SELECT f.done FROM unnest($1::uuid[], $2::bigint[], $3::text[], $4::text[], \
                 $5::text[], $6::text[], $7::bigint[]) WITH ORDINALITY \
                 AS t(id, token, step, record, result, error, delay, n) \
                 CROSS JOIN LATERAL {s}.finish_job(t.id, t.token, t.step, t.record, t.result, \
                 t.error, t.delay, $8, $9) AS f(done) ORDER BY t.n"
            )
            .into(),
        }
    }
}

/// The store's grouped writes.
#[derive(Debug)]
pub(super) struct Writes {
    pub(super) creates: Group<CreateRow, CreateAnswer>,
    pub(super) finishes: Group<FinishRow, i32>,
}

impl Writes {
    /// `completed_ms` and `failed_ms`: how long finished jobs are kept.
    pub(super) fn new(
        pool: &PgPool,
        statements: &WriteStatements,
        completed_ms: i64,
        failed_ms: i64,
    ) -> Self {
        let creates: Flush<CreateRow, CreateAnswer> = {
            let (pool, statements) = (pool.clone(), statements.clone());
            Arc::new(move |rows| {
                let (pool, statements) = (pool.clone(), statements.clone());
                Box::pin(async move { create_rows(&pool, &statements, rows).await })
            })
        };
        let finishes: Flush<FinishRow, i32> = {
            let (pool, statements) = (pool.clone(), statements.clone());
            Arc::new(move |rows| {
                let (pool, statements) = (pool.clone(), statements.clone());
                Box::pin(async move {
                    finish_rows(&pool, &statements, rows, [completed_ms, failed_ms]).await
                })
            })
        };
        Self {
            creates: Group::new(creates, CreateRow::size),
            finishes: Group::new(finishes, FinishRow::size),
        }
    }
}

async fn create_rows(
    pool: &PgPool,
    statements: &WriteStatements,
    rows: Vec<CreateRow>,
) -> Vec<Result<CreateAnswer, StoreError>> {
    if let [row] = rows.as_slice() {
        return vec![create_one(pool, statements, row).await];
    }
    let mut batch = create_many(pool, statements, &rows).await;
    if let Err(StoreError::OutcomeUnknown { .. }) = batch {
        // It may have committed: sent once more, each row finds its job
        // (by its id), and a job made under an id asyncep chose (the
        // client named none) was this batch's own.
        batch = create_many(pool, statements, &rows)
            .await
            .map(|answers| rows.iter().zip(answers).map(own).collect());
    }
    if let Some(answers) = settle("creates", rows.len(), batch) {
        return answers;
    }
    let mut answers = Vec::with_capacity(rows.len());
    for row in &rows {
        answers.push(create_one(pool, statements, row).await);
    }
    answers
}

/// A create found again after a lost answer: under an id asyncep chose
/// (no key, no client-chosen id: no fingerprint), it can only be the row's
/// own, made by the batch whose answer was lost.
fn own((row, answer): (&CreateRow, CreateAnswer)) -> CreateAnswer {
    if answer.outcome == CreateAnswer::EXISTING
        && row.fingerprint.is_none()
        && answer.job_id == Some(row.id)
    {
        CreateAnswer {
            outcome: CreateAnswer::NEW,
            ..answer
        }
    } else {
        answer
    }
}

/// Every row's create in one statement.
async fn create_many(
    pool: &PgPool,
    statements: &WriteStatements,
    rows: &[CreateRow],
) -> Result<Vec<CreateAnswer>, StoreError> {
    sqlx::query(sql(&statements.create_many))
        .bind(rows.iter().map(|r| r.id).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.name.as_str()).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.max_retries).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.input.as_str()).collect::<Vec<_>>())
        .bind(
            rows.iter()
                .map(|r| r.fingerprint.as_deref())
                .collect::<Vec<_>>(),
        )
        .bind(rows.iter().map(|r| r.key.as_deref()).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.caller.as_deref()).collect::<Vec<_>>())
        .fetch_all(pool)
        .await
        .map_err(error)
        .and_then(|answers| {
            answers
                .iter()
                .map(create_answer)
                .collect::<Result<Vec<_>, _>>()
        })
}

/// One create, alone: on the pool, or in the caller's transaction.
pub(super) async fn create_one<'e>(
    executor: impl sqlx::PgExecutor<'e>,
    statements: &WriteStatements,
    row: &CreateRow,
) -> Result<CreateAnswer, StoreError> {
    let answer = sqlx::query(sql(&statements.create))
        .bind(row.id)
        .bind(&row.name)
        .bind(row.max_retries)
        .bind(&row.input)
        .bind(row.fingerprint.as_deref())
        .bind(row.key.as_deref())
        .bind(row.caller.as_deref())
        .fetch_one(executor)
        .await
        .map_err(error)?;
    create_answer(&answer)
}

fn create_answer(row: &sqlx::postgres::PgRow) -> Result<CreateAnswer, StoreError> {
    Ok(CreateAnswer {
        outcome: row.try_get("outcome").map_err(error)?,
        job_id: row.try_get("job_id").map_err(error)?,
        created: row.try_get("created").map_err(error)?,
    })
}

async fn finish_rows(
    pool: &PgPool,
    statements: &WriteStatements,
    rows: Vec<FinishRow>,
    retention: [i64; 2],
) -> Vec<Result<i32, StoreError>> {
    if let [row] = rows.as_slice() {
        return vec![finish_one(pool, statements, row, retention).await];
    }
    let batch: Result<Vec<i32>, StoreError> = sqlx::query_scalar(sql(&statements.finish_many))
        .bind(rows.iter().map(|r| r.id).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.token).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.step).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.record.as_str()).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.result.as_deref()).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.error.as_deref()).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.delay).collect::<Vec<_>>())
        .bind(retention[0])
        .bind(retention[1])
        .fetch_all(pool)
        .await
        .map_err(error);
    if let Some(answers) = settle("finishes", rows.len(), batch) {
        return answers;
    }
    let mut answers = Vec::with_capacity(rows.len());
    for row in &rows {
        answers.push(finish_one(pool, statements, row, retention).await);
    }
    answers
}

pub(super) async fn finish_one(
    pool: &PgPool,
    statements: &WriteStatements,
    row: &FinishRow,
    [completed_ms, failed_ms]: [i64; 2],
) -> Result<i32, StoreError> {
    sqlx::query_scalar(sql(&statements.finish))
        .bind(row.id)
        .bind(row.token)
        .bind(row.step)
        .bind(&row.record)
        .bind(row.result.as_deref())
        .bind(row.error.as_deref())
        .bind(row.delay)
        .bind(completed_ms)
        .bind(failed_ms)
        .fetch_one(pool)
        .await
        .map_err(error)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(fingerprint: Option<Vec<u8>>) -> CreateRow {
        CreateRow {
            id: uuid::Uuid::new_v4(),
            name: "report".into(),
            max_retries: 0,
            input: "{}".into(),
            fingerprint,
            key: None,
            caller: None,
        }
    }

    fn existing(id: uuid::Uuid) -> CreateAnswer {
        CreateAnswer {
            outcome: CreateAnswer::EXISTING,
            job_id: Some(id),
            created: None,
        }
    }

    #[test]
    fn a_job_found_again_under_an_id_asyncep_chose_is_the_batchs_own() {
        let made = row(None);
        assert_eq!(own((&made, existing(made.id))).outcome, CreateAnswer::NEW);
    }

    #[test]
    fn a_job_found_again_under_a_client_id_or_another_id_stays_a_repeat() {
        let chosen = row(Some(vec![1; 32]));
        assert_eq!(
            own((&chosen, existing(chosen.id))).outcome,
            CreateAnswer::EXISTING
        );
        let made = row(None);
        assert_eq!(
            own((&made, existing(uuid::Uuid::new_v4()))).outcome,
            CreateAnswer::EXISTING
        );
    }
}
