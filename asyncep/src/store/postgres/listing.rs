//! The operator's listing and purge on PostgreSQL: pages from the
//! `jobs_by_name` index (one index range per status, merged), and deletes
//! that leave unfinished jobs alone.

use sqlx::Row;

use super::PostgresStore;
use super::row::{decode, error};
use super::statements::sql;
use crate::job::JobId;
use crate::store::{JobPage, ListCursor, ListQuery, StoreError};

impl PostgresStore {
    pub(super) async fn list_page(&self, query: &ListQuery) -> Result<JobPage, StoreError> {
        let statements = &self.inner.statements;
        let (created_at, id) = ListCursor::sql(query.after);
        let limit = i64::try_from(query.limit).unwrap_or(i64::MAX);
        let places: Vec<(i64, uuid::Uuid)> = match query.status {
            Some(status) => sqlx::query_as(sql(&statements.list_one))
                .bind(&query.name)
                .bind(status.as_str())
                .bind(created_at)
                .bind(id)
                .bind(limit),
            None => sqlx::query_as(sql(&statements.list_all))
                .bind(&query.name)
                .bind(created_at)
                .bind(id)
                .bind(limit),
        }
        .fetch_all(&self.inner.pool)
        .await
        .map_err(error)?;
        // A full page may have more after it: the next page says.
        let next = ListCursor::after_sql(&places, query.limit);
        let ids: Vec<uuid::Uuid> = places.iter().map(|&(_, id)| id).collect();
        let rows = sqlx::query(sql(&statements.get_many))
            .bind(&ids)
            .fetch_all(&self.inner.pool)
            .await
            .map_err(error)?;
        let jobs = rows.iter().map(decode).collect::<Result<Vec<_>, _>>()?;
        Ok(JobPage { jobs, next })
    }

    pub(super) async fn delete(&self, ids: &[JobId]) -> Result<Vec<JobId>, StoreError> {
        let ids: Vec<uuid::Uuid> = ids.iter().map(JobId::as_uuid).collect();
        let rows = sqlx::query(sql(&self.inner.statements.delete_finished))
            .bind(&ids)
            .fetch_all(&self.inner.pool)
            .await
            .map_err(error)?;
        rows.iter()
            .map(|row| {
                Ok(JobId::from(
                    row.try_get::<uuid::Uuid, _>("id").map_err(error)?,
                ))
            })
            .collect()
    }
}
