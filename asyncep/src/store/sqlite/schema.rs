//! The SQLite schema: asyncep's own versioned migrations, run at start in
//! one `BEGIN IMMEDIATE` transaction (the lock that makes processes starting
//! together migrate once), recorded in asyncep's own table. Every table is
//! named `asyncep_*`, so the file may be the application's own database.

use sqlx::{Executor, Row, SqliteConnection};

use super::row::error;
use crate::store::StoreError;

/// The migrations, in order: version `n` is `MIGRATIONS[n - 1]`.
const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE asyncep_counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
INSERT INTO asyncep_counters (name, value) VALUES ('token', 0), ('seq', 0);

CREATE TABLE asyncep_jobs (
  id BLOB PRIMARY KEY,
  name TEXT NOT NULL,
  caller TEXT,
  status TEXT NOT NULL,
  retry_count INTEGER NOT NULL DEFAULT 0,
  max_retries INTEGER NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  lost_leases INTEGER NOT NULL DEFAULT 0,
  token INTEGER NOT NULL DEFAULT 0,
  finished_token INTEGER NOT NULL DEFAULT 0,
  claim_id BLOB,
  input TEXT,
  fingerprint BLOB,
  result TEXT,
  error TEXT,
  created_at INTEGER NOT NULL,
  started_at INTEGER,
  completed_at INTEGER,
  last_updated_at INTEGER NOT NULL,
  next_attempt_at INTEGER,
  claimed_at INTEGER,
  run_at INTEGER,
  ready INTEGER NOT NULL DEFAULT 0,
  seq INTEGER NOT NULL DEFAULT 0,
  lease_expires_at INTEGER,
  expires_at INTEGER
);
CREATE INDEX asyncep_jobs_ready ON asyncep_jobs (name, run_at, seq) WHERE ready = 1;
CREATE INDEX asyncep_jobs_scheduled ON asyncep_jobs (name, run_at)
  WHERE status = 'Scheduled' AND ready = 0;
CREATE INDEX asyncep_jobs_leases ON asyncep_jobs (lease_expires_at, id)
  WHERE status = 'InProgress';
CREATE INDEX asyncep_jobs_claims ON asyncep_jobs (claim_id) WHERE status = 'InProgress';
CREATE INDEX asyncep_jobs_retention ON asyncep_jobs (expires_at) WHERE expires_at IS NOT NULL;

CREATE TABLE asyncep_attempts (
  job_id BLOB NOT NULL REFERENCES asyncep_jobs (id) ON DELETE CASCADE,
  attempt INTEGER NOT NULL,
  record TEXT NOT NULL,
  PRIMARY KEY (job_id, attempt)
) WITHOUT ROWID;

CREATE TABLE asyncep_keys (
  scoped_key TEXT PRIMARY KEY,
  job_id BLOB NOT NULL REFERENCES asyncep_jobs (id) ON DELETE CASCADE
) WITHOUT ROWID;
CREATE INDEX asyncep_keys_job ON asyncep_keys (job_id);
"#,
    r#"
ALTER TABLE asyncep_jobs ADD COLUMN cancel_requested INTEGER NOT NULL DEFAULT 0;
ALTER TABLE asyncep_jobs ADD COLUMN progress TEXT;
"#,
    // The operator's listing: a name's jobs of one status, newest first.
    r#"
CREATE INDEX asyncep_jobs_by_name ON asyncep_jobs (name, status, created_at DESC, id DESC);
"#,
];

/// The schema version this build of asyncep writes.
pub(crate) const VERSION: i64 = MIGRATIONS.len() as i64;

/// The table that records the schema's version.
const VERSION_TABLE: &str = "CREATE TABLE IF NOT EXISTS asyncep_schema (version INTEGER NOT NULL)";

/// Records that the schema is at `version`.
fn set_version(version: usize) -> String {
    format!("DELETE FROM asyncep_schema; INSERT INTO asyncep_schema (version) VALUES ({version})")
}

/// The SQL of every migration, for teams whose migration tool must own
/// every change (apply it, and asyncep finds its schema current).
pub(crate) fn migration_sql() -> String {
    let mut sql = format!("{VERSION_TABLE};\n");
    for (index, migration) in MIGRATIONS.iter().enumerate() {
        sql.push_str(migration);
        sql.push_str(&format!("{};\n", set_version(index + 1)));
    }
    sql
}

/// Brings the schema to [`VERSION`] inside the caller's `BEGIN IMMEDIATE`
/// transaction; refuses a newer schema.
pub(crate) async fn migrate(tx: &mut SqliteConnection) -> Result<(), StoreError> {
    tx.execute(VERSION_TABLE).await.map_err(error)?;
    let current: i64 =
        sqlx::query("SELECT coalesce(max(version), 0) AS version FROM asyncep_schema")
            .fetch_one(&mut *tx)
            .await
            .map_err(error)?
            .get("version");
    if current > VERSION {
        return Err(StoreError::Misconfigured(format!(
            "the SQLite file's asyncep schema is at version {current}, newer than this build of \
             asyncep knows ({VERSION}); run a newer asyncep, or another file"
        )));
    }
    for (index, migration) in MIGRATIONS.iter().enumerate().skip(current as usize) {
        tx.execute(*migration).await.map_err(error)?;
        tx.execute(sqlx::AssertSqlSafe(set_version(index + 1)))
            .await
            .map_err(error)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_exported_sql_creates_the_tables_and_records_the_version() {
        let sql = migration_sql();
        assert!(sql.contains("CREATE TABLE asyncep_jobs"));
        assert!(sql.contains(&format!("VALUES ({VERSION})")));
    }
}
