//! What only the PostgreSQL store does: its own migrations.

use asyncep::store::{JobStore, PostgresStore, StoreError};
use sqlx::Connection;

/// A database of the test's own, dropped at the end.
struct OwnDatabase {
    name: String,
}

impl OwnDatabase {
    async fn create() -> Option<Self> {
        asyncep_tests::services::postgres_store()?;
        let name = format!("asyncep_db_{}", uuid::Uuid::new_v4().simple());
        let mut admin = sqlx::PgConnection::connect(&asyncep_tests::services::postgres_url())
            .await
            .unwrap();
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut admin)
            .await
            .unwrap();
        Some(Self { name })
    }

    fn url(&self) -> String {
        let base = asyncep_tests::services::postgres_url();
        let (server, _) = base.rsplit_once('/').unwrap();
        format!("{server}/{}", self.name)
    }
}

impl Drop for OwnDatabase {
    fn drop(&mut self) {
        let (url, name) = (asyncep_tests::services::postgres_url(), self.name.clone());
        std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap()
                .block_on(async {
                    if let Ok(mut admin) = sqlx::PgConnection::connect(&url).await {
                        let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                            "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                        )))
                        .execute(&mut admin)
                        .await;
                    }
                });
        })
        .join()
        .ok();
    }
}

#[tokio::test]
async fn a_schema_newer_than_the_binary_is_refused_with_a_message() {
    let Some(database) = OwnDatabase::create().await else {
        return;
    };
    let store = PostgresStore::builder(database.url()).build().unwrap();
    store.start().await.unwrap();
    sqlx::query("UPDATE asyncep.asyncep_schema SET version = 999")
        .execute(store.pool())
        .await
        .unwrap();
    store.shutdown().await;
    let later = PostgresStore::builder(database.url()).build().unwrap();
    let error = later.start().await.unwrap_err();
    assert!(matches!(error, StoreError::Misconfigured(_)), "{error}");
    assert!(error.to_string().contains("newer"), "{error}");
    later.pool().close().await;
    store.pool().close().await;
}

/// The application's own `sqlx` migrations (in `_sqlx_migrations`) and
/// asyncep's (in `asyncep.asyncep_schema`) live in one database; and the
/// exported SQL, applied by the application's tool, leaves asyncep with
/// nothing to do.
#[tokio::test]
async fn asyncep_and_the_applications_migrations_share_a_database() {
    let Some(database) = OwnDatabase::create().await else {
        return;
    };
    let dir = std::env::temp_dir().join(format!("asyncep-host-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("20260101000000_orders.sql"),
        "CREATE TABLE orders (id bigint PRIMARY KEY);",
    )
    .unwrap();
    std::fs::write(
        dir.join("20260101000001_asyncep.sql"),
        PostgresStore::migration_sql("asyncep"),
    )
    .unwrap();
    let mut connection = sqlx::PgConnection::connect(&database.url()).await.unwrap();
    sqlx::migrate::Migrator::new(dir.as_path())
        .await
        .unwrap()
        .run(&mut connection)
        .await
        .expect("the application's tool applies both");
    let store = PostgresStore::builder(database.url()).build().unwrap();
    store
        .start()
        .await
        .expect("asyncep finds its schema current");
    let versions: Vec<i32> = sqlx::query_scalar("SELECT version FROM asyncep.asyncep_schema")
        .fetch_all(store.pool())
        .await
        .unwrap();
    assert_eq!(versions.len(), 1);
    let host: i64 = sqlx::query_scalar("SELECT count(*) FROM _sqlx_migrations")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(host, 2, "the application's migrations are its own");
    store.shutdown().await;
    store.pool().close().await;
    connection.close().await.ok();
    let _ = std::fs::remove_dir_all(&dir);
}
