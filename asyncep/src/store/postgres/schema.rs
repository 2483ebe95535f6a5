//! The PostgreSQL schema: asyncep's own versioned migrations, run at start
//! under an advisory lock and recorded in asyncep's own table (never
//! `_sqlx_migrations`, which belongs to the application).

use sqlx::{AssertSqlSafe, Executor, PgPool, Row};

// `schema` below is always a checked identifier (`valid_schema`): the only
// text taken from outside; every statement is asserted safe on that ground.

use crate::store::StoreError;
use crate::store::changes::CANCEL_PREFIX;

/// The migrations, in order: version `n` is `MIGRATIONS[n - 1]`, one file
/// each in `migrations/`. `{schema}` stands for the configured schema name;
/// `{canceled}`, `{changed}` and `{cancel_prefix}` are filled from Rust
/// constants (see `fill`). A shipped migration never changes: a change is a
/// new one.
const MIGRATIONS: &[&str] = &[
    include_str!("migrations/0001.sql"),
    include_str!("migrations/0002.sql"),
    include_str!("migrations/0003.sql"),
    include_str!("migrations/0004.sql"),
    include_str!("migrations/0005.sql"),
    include_str!("migrations/0006.sql"),
    include_str!("migrations/0007.sql"),
    include_str!("migrations/0008.sql"),
];

/// The schema version this build of asyncep writes.
pub(crate) const VERSION: i32 = MIGRATIONS.len() as i32;

/// The SQL of every migration, for teams whose migration tool must own
/// every change (apply it, and asyncep finds its schema current).
pub(crate) fn migration_sql(schema: &str) -> String {
    let mut sql = format!("{};\n", version_table(schema));
    for (index, migration) in MIGRATIONS.iter().enumerate() {
        sql.push_str(&fill(migration, schema));
        sql.push_str(&format!("{};\n", set_version(schema, index + 1)));
    }
    sql
}

/// A migration's SQL for `schema`: the schema name and the error a canceled
/// job ends with (from the Rust constant: one source of truth) written in.
fn fill(migration: &str, schema: &str) -> String {
    let canceled = serde_json::to_string(&crate::job::canceled())
        .expect("an ErrorInfo is JSON")
        .replace('\'', "''");
    migration
        .replace("{schema}", schema)
        .replace("{canceled}", &format!("'{canceled}'"))
        .replace("{changed}", &channel(schema, "changed"))
        .replace("{cancel_prefix}", CANCEL_PREFIX)
}

/// A `LISTEN`/`NOTIFY` channel of the schema: `asyncep_{schema}` and the
/// suffix, or, past PostgreSQL's 63 bytes, a digest of them in its place.
pub(crate) fn channel(schema: &str, suffix: &str) -> String {
    let name = if suffix.is_empty() {
        format!("asyncep_{schema}")
    } else {
        format!("asyncep_{schema}_{suffix}")
    };
    if name.len() <= 63 {
        return name;
    }
    use sha2::Digest;
    let digest = sha2::Sha256::digest(name.as_bytes());
    let hex: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
    format!("asyncep_{hex}")
}

/// The table that records the schema's version (and the schema itself).
fn version_table(schema: &str) -> String {
    format!(
        "CREATE SCHEMA IF NOT EXISTS {schema}; \
         CREATE TABLE IF NOT EXISTS {schema}.asyncep_schema (version integer NOT NULL)"
    )
}

/// Records that the schema is at `version`.
fn set_version(schema: &str, version: usize) -> String {
    format!(
        "DELETE FROM {schema}.asyncep_schema; \
         INSERT INTO {schema}.asyncep_schema (version) VALUES ({version})"
    )
}

/// Brings the schema to [`VERSION`], under an advisory lock so that
/// processes starting together migrate once; refuses a newer schema.
pub(crate) async fn migrate(pool: &PgPool, schema: &str) -> Result<(), StoreError> {
    let mut tx = pool.begin().await.map_err(super::row::error)?;
    sqlx::query("SELECT pg_advisory_xact_lock(hashtext($1))")
        .bind(format!("asyncep-migrate:{schema}"))
        .execute(&mut *tx)
        .await
        .map_err(super::row::error)?;
    tx.execute(AssertSqlSafe(version_table(schema)))
        .await
        .map_err(super::row::error)?;
    let current: i32 = sqlx::query(AssertSqlSafe(format!(
        "SELECT coalesce(max(version), 0) AS version FROM {schema}.asyncep_schema"
    )))
    .fetch_one(&mut *tx)
    .await
    .map_err(super::row::error)?
    .get("version");
    if current > VERSION {
        return Err(StoreError::Misconfigured(format!(
            "the database's asyncep schema `{schema}` is at version {current}, newer than this \
             build of asyncep knows ({VERSION}); run a newer asyncep, or another schema"
        )));
    }
    for (index, migration) in MIGRATIONS.iter().enumerate().skip(current as usize) {
        tx.execute(AssertSqlSafe(fill(migration, schema)))
            .await
            .map_err(super::row::error)?;
        tx.execute(AssertSqlSafe(set_version(schema, index + 1)))
            .await
            .map_err(super::row::error)?;
    }
    tx.commit().await.map_err(super::row::error)
}

/// A schema name asyncep accepts: a plain identifier, so it can stand in
/// SQL text.
pub(crate) fn valid_schema(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 63
        && name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_names_are_plain_identifiers() {
        assert!(valid_schema("asyncep"));
        assert!(valid_schema("jobs_2"));
        assert!(!valid_schema("Jobs"));
        assert!(!valid_schema("a;drop"));
        assert!(!valid_schema("1a"));
        assert!(!valid_schema(""));
    }

    #[test]
    fn channels_fit_in_an_identifier() {
        assert_eq!(channel("asyncep", ""), "asyncep_asyncep");
        assert_eq!(channel("billing", "changed"), "asyncep_billing_changed");
        let long = "s".repeat(63);
        let (wake, changed) = (channel(&long, ""), channel(&long, "changed"));
        assert!(wake.len() <= 63 && changed.len() <= 63);
        assert_ne!(wake, changed);
        assert_ne!(
            channel(&long, "changed"),
            channel(&"t".repeat(63), "changed")
        );
    }

    #[test]
    fn the_exported_sql_names_the_schema_and_the_version() {
        let sql = migration_sql("billing");
        assert!(sql.contains("CREATE TABLE billing.jobs"));
        assert!(sql.contains(&format!("VALUES ({VERSION})")));
        assert!(!sql.contains("{schema}"));
        assert!(!sql.contains("{canceled}"));
        assert!(sql.contains("pg_notify('asyncep_billing_changed'"));
        assert!(sql.contains("error = '{\"code\":\"canceled\""), "{sql}");
    }
}
