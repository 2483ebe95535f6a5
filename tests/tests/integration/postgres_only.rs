//! What only the PostgreSQL store does: its own migrations, and jobs
//! submitted inside the application's transactions.

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

/// A schema the first asyncep left (version 1, with a job in it) is brought
/// up to date at start, and its job is kept and runs.
#[tokio::test]
async fn an_older_schema_is_migrated_and_keeps_its_jobs() {
    let Some(database) = OwnDatabase::create().await else {
        return;
    };
    // The exported SQL up to where it records version 1: what the first
    // release ran.
    let sql = PostgresStore::migration_sql("asyncep");
    let first = "INSERT INTO asyncep.asyncep_schema (version) VALUES (1);\n";
    let cut = sql.find(first).expect("version 1 is recorded") + first.len();
    let mut conn = sqlx::PgConnection::connect(&database.url()).await.unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql[..cut].to_owned()))
        .execute(&mut conn)
        .await
        .unwrap();
    let id = asyncep::JobId::new();
    let input = serde_json::to_string(&asyncep::job::JobInput::default()).unwrap();
    sqlx::query("SELECT * FROM asyncep.create_job($1, 'kept', 0, $2, NULL, NULL, NULL)")
        .bind(id.as_uuid())
        .bind(input)
        .execute(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();
    let later = PostgresStore::builder(database.url()).build().unwrap();
    later.start().await.expect("the older schema is migrated");
    let version: i32 = sqlx::query_scalar("SELECT version FROM asyncep.asyncep_schema")
        .fetch_one(later.pool())
        .await
        .unwrap();
    assert!(version > 1, "at version {version}");
    assert!(later.get(id).await.unwrap().is_some(), "the job is kept");
    let names = asyncep::store::JobNames::new(["kept".into()]);
    let claimed = later
        .claim(&asyncep::store::ClaimRequest {
            names,
            lease: std::time::Duration::from_secs(30),
            limit: 1,
            id: asyncep::store::ClaimId::new(),
            repeat: false,
        })
        .await
        .unwrap();
    assert_eq!(claimed.jobs.len(), 1, "the kept job runs");
    assert_eq!(claimed.jobs[0].id, id);
    later.shutdown().await;
    later.pool().close().await;
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

/// A crash of the database server mid-run: submits answer 503 while it is
/// down, nothing accepted is lost, and the same API and workers carry on
/// when it is back, without a restart of their own.
#[tokio::test]
async fn a_postgres_crash_loses_nothing_and_everyone_recovers() {
    use asyncep_tests::TestServer;
    use serde_json::{Value, json};
    let Some(postgres) = asyncep_tests::services::OwnPostgres::start() else {
        return;
    };
    let store = PostgresStore::builder(postgres.url()).build().unwrap();
    store.start().await.unwrap();
    let backend = crate::Backend {
        store: std::sync::Arc::new(store),
    };
    let server = TestServer::start(backend.builder().workers(2)).await;
    let mut before = Vec::new();
    for n in 0..20 {
        before.push(
            server
                .submit("/echo/1", &json!({ "message": format!("before {n}") }))
                .await,
        );
    }
    let patient = server.submit("/patient", &json!(null)).await;
    server.wait_for_status(&patient, "Scheduled").await;

    postgres.crash();
    let during = server
        .post_json("/echo/1", &json!({ "message": "during" }))
        .await;
    assert_eq!(during.status(), 503);
    let problem: Value = during.json().await.unwrap();
    assert!(
        problem["type"]
            .as_str()
            .unwrap()
            .starts_with("urn:asyncep:problem:store-"),
        "{problem}"
    );
    postgres.restart();

    for id in &before {
        let job = server.wait_for_status(id, "Completed").await;
        assert!(
            job["result"]["message"]
                .as_str()
                .unwrap()
                .starts_with("before")
        );
    }
    assert_eq!(
        server.job(&patient).await["status"],
        "Scheduled",
        "the retry survived"
    );
    let after = server
        .submit("/echo/1", &json!({ "message": "after" }))
        .await;
    assert_eq!(
        server.wait_for_status(&after, "Completed").await["result"]["message"],
        "after"
    );
}

/// A job submitted inside the application's own transaction exists if and
/// only if the transaction commits: committed, it runs (its `NOTIFY` is
/// heard at the commit); rolled back, it was never there.
#[tokio::test]
async fn a_job_submitted_in_a_transaction_exists_only_if_it_commits() {
    use asyncep::JobRequest;
    use asyncep_tests::TestServer;

    let Some(store) = asyncep_tests::services::postgres_store() else {
        return;
    };
    let server = TestServer::start(
        asyncep::Runtime::builder()
            .store(store.clone())
            .state(crate::endpoints::Greeting("hello".into()))
            .workers(2),
    )
    .await;
    server.runtime.start().await.unwrap();
    let orders = format!("{}.orders", store.schema());
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "CREATE TABLE {orders} (id bigint PRIMARY KEY)"
    )))
    .execute(store.pool())
    .await
    .unwrap();
    let order_job = |order: i64| {
        JobRequest::new("ping")
            .param("id", order.to_string())
            .idempotency_key(format!("order-{order}"))
    };

    let mut tx = store.pool().begin().await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "INSERT INTO {orders} VALUES (1)"
    )))
    .execute(&mut *tx)
    .await
    .unwrap();
    let job = server.runtime.prepare(order_job(1)).await.unwrap();
    let committed = store.create_in(&mut tx, job).await.unwrap().job().id;
    assert!(
        store.get(committed).await.unwrap().is_none(),
        "not seen before the commit"
    );
    tx.commit().await.unwrap();
    let done = server
        .wait_for_status(&committed.to_string(), "Completed")
        .await;
    assert_eq!(done["result"], "pong 1");

    let mut tx = store.pool().begin().await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "INSERT INTO {orders} VALUES (2)"
    )))
    .execute(&mut *tx)
    .await
    .unwrap();
    let job = server.runtime.prepare(order_job(2)).await.unwrap();
    let rolled_back = store.create_in(&mut tx, job).await.unwrap().job().id;
    tx.rollback().await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(store.get(rolled_back).await.unwrap().is_none());
    let count: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT count(*) FROM {}.jobs WHERE id = $1",
        store.schema()
    )))
    .bind(rolled_back.as_uuid())
    .fetch_one(store.pool())
    .await
    .unwrap();
    assert_eq!(count, 0, "nothing of the rolled-back job is stored");
    // Its key is free again: the same order's job can be made afresh.
    let again = server.runtime.submit(order_job(2)).await.unwrap();
    assert!(matches!(again, asyncep::store::Created::New(_)));
    server.runtime.shutdown().await;
}
