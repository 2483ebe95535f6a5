//! The operator's listing and purge on SQLite: pages from the
//! `asyncep_jobs_by_name` index (one index range per status, merged), and
//! deletes that leave unfinished jobs alone.

use sqlx::AssertSqlSafe;

use super::operations::Operation;
use super::row::{error, micros};
use crate::job::{JobId, JobStatus};
use crate::store::{JobPage, ListCursor, ListQuery, StoreError};

/// The newest `?5` jobs of `?1` in `status` before the cursor (`?2`, `?3`),
/// unless their retention ended (`?4`).
fn page(status: &str) -> String {
    format!(
        "SELECT * FROM (SELECT created_at, id FROM asyncep_jobs \
         WHERE name = ?1 AND status = {status} AND (created_at, id) < (?2, ?3) \
         AND (expires_at IS NULL OR expires_at > ?4) \
         ORDER BY created_at DESC, id DESC LIMIT ?5)"
    )
}

impl Operation<'_> {
    /// A page of an operator's listing.
    pub(super) async fn list(&mut self, query: &ListQuery) -> Result<JobPage, StoreError> {
        let (created_at, id) = ListCursor::sql(query.after);
        let statement = match query.status {
            Some(_) => page("?6"),
            None => {
                let branches: Vec<String> = JobStatus::ALL
                    .iter()
                    .map(|status| page(&format!("'{}'", status.as_str())))
                    .collect();
                format!(
                    "SELECT * FROM ({}) ORDER BY created_at DESC, id DESC LIMIT ?5",
                    branches.join(" UNION ALL ")
                )
            }
        };
        let places: Vec<(i64, uuid::Uuid)> = sqlx::query_as(AssertSqlSafe(statement))
            .bind(&query.name)
            .bind(created_at)
            .bind(id)
            .bind(micros(self.now))
            .bind(i64::try_from(query.limit).unwrap_or(i64::MAX))
            .bind(query.status.map(JobStatus::as_str))
            .fetch_all(&mut *self.conn)
            .await
            .map_err(error)?;
        let next = ListCursor::after_sql(&places, query.limit);
        let mut jobs = Vec::with_capacity(places.len());
        for (_, id) in places {
            if let Some(job) = self.get(JobId::from(id)).await? {
                jobs.push(job);
            }
        }
        Ok(JobPage { jobs, next })
    }

    /// Deletes those of `ids` that have finished; returns them.
    pub(super) async fn delete_finished(
        &mut self,
        ids: &[JobId],
    ) -> Result<Vec<JobId>, StoreError> {
        let mut deleted = Vec::new();
        for &id in ids {
            let done = sqlx::query(
                "DELETE FROM asyncep_jobs WHERE id = ?1 \
                 AND status IN ('Completed', 'Failed', 'Canceled')",
            )
            .bind(id.as_uuid())
            .execute(&mut *self.conn)
            .await
            .map_err(error)?;
            if done.rows_affected() == 1 {
                deleted.push(id);
            }
        }
        Ok(deleted)
    }
}
