//! What only the SQLite store does: its own migrations in a file the
//! application may share, and a durable file with no server.

use asyncep::store::{JobStore, SqliteStore, StoreError};
use asyncep_tests::services::{sqlite_dir, sqlite_url};
use sqlx::Connection;

/// A job of `name`, with nothing to run on.
fn new_job(id: asyncep::JobId, name: &'static str) -> asyncep::store::NewJob {
    asyncep::store::NewJob {
        id,
        name: name.into(),
        max_retries: 0,
        input: asyncep::job::JobInput::default(),
        idempotency: None,
        caller: None,
    }
}

/// A claim of one job of `name`, under a 30 s lease.
fn claim_one(name: &'static str) -> asyncep::store::ClaimRequest {
    asyncep::store::ClaimRequest {
        names: asyncep::store::JobNames::new([name.into()]),
        lease: std::time::Duration::from_secs(30),
        limit: 1,
        id: asyncep::store::ClaimId::new(),
        repeat: false,
    }
}

async fn open(url: &str) -> sqlx::SqliteConnection {
    use std::str::FromStr;
    let options = sqlx::sqlite::SqliteConnectOptions::from_str(url)
        .unwrap()
        .create_if_missing(true);
    sqlx::SqliteConnection::connect_with(&options)
        .await
        .unwrap()
}

/// A file whose asyncep schema is newer than this build is refused at
/// start, with a message, and left as it was.
#[tokio::test]
async fn a_schema_newer_than_the_binary_is_refused_with_a_message() {
    let url = sqlite_url();
    let store = SqliteStore::builder(&url).build().unwrap();
    store.start().await.unwrap();
    store.shutdown().await;
    let mut connection = open(&url).await;
    sqlx::query("UPDATE asyncep_schema SET version = 999")
        .execute(&mut connection)
        .await
        .unwrap();
    let later = SqliteStore::builder(&url).build().unwrap();
    let error = later.start().await.unwrap_err();
    assert!(matches!(error, StoreError::Misconfigured(_)), "{error}");
    assert!(error.to_string().contains("newer"), "{error}");
    let version: i64 = sqlx::query_scalar("SELECT version FROM asyncep_schema")
        .fetch_one(&mut connection)
        .await
        .unwrap();
    assert_eq!(version, 999, "the refused start changed nothing");
    connection.close().await.ok();
}

/// The application's own `sqlx` migrations and asyncep's tables live in
/// one file; the exported SQL, applied by the application's tool, leaves
/// asyncep with nothing to do.
#[tokio::test]
async fn asyncep_and_the_applications_migrations_share_a_file() {
    let url = sqlite_url();
    let dir = sqlite_dir().join(format!("host-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("20260101000000_orders.sql"),
        "CREATE TABLE orders (id INTEGER PRIMARY KEY);",
    )
    .unwrap();
    std::fs::write(
        dir.join("20260101000001_asyncep.sql"),
        SqliteStore::migration_sql(),
    )
    .unwrap();
    let mut connection = open(&url).await;
    sqlx::migrate::Migrator::new(dir.as_path())
        .await
        .unwrap()
        .run(&mut connection)
        .await
        .expect("the application's tool applies both");
    let store = SqliteStore::builder(&url).build().unwrap();
    store
        .start()
        .await
        .expect("asyncep finds its schema current");
    let versions: Vec<i64> = sqlx::query_scalar("SELECT version FROM asyncep_schema")
        .fetch_all(&mut connection)
        .await
        .unwrap();
    assert_eq!(versions.len(), 1);
    let host: i64 = sqlx::query_scalar("SELECT count(*) FROM _sqlx_migrations")
        .fetch_one(&mut connection)
        .await
        .unwrap();
    assert_eq!(host, 2, "the application's migrations are its own");
    store.shutdown().await;
    connection.close().await.ok();
    let _ = std::fs::remove_dir_all(&dir);
}

/// Jobs accepted by one store survive it (its pools closed, its process
/// state gone) and a new store on the same file runs them; the document
/// of a finished job survives too.
#[tokio::test]
async fn jobs_outlive_the_store_that_accepted_them() {
    let url = sqlite_url();
    let id = asyncep::JobId::new();
    {
        let first = SqliteStore::builder(&url).build().unwrap();
        first.start().await.unwrap();
        first.create(new_job(id, "durable")).await.unwrap();
        first.shutdown().await;
    }
    let second = SqliteStore::builder(&url).build().unwrap();
    second.start().await.unwrap();
    let claimed = second.claim(&claim_one("durable")).await.unwrap();
    assert_eq!(claimed.jobs.len(), 1);
    assert_eq!(claimed.jobs[0].id, id);
}

/// An in-memory SQLite database, which no second connection would see, is
/// refused with advice, as is a URL SQLite cannot read.
#[test]
fn an_in_memory_database_or_a_bad_url_is_refused() {
    for url in ["sqlite::memory:", "sqlite://jobs.db?mode=nonsense"] {
        let error = SqliteStore::builder(url).build().unwrap_err();
        assert!(
            matches!(error, StoreError::Misconfigured(_)),
            "{url}: {error}"
        );
    }
}

/// Two stores on one file stand for two processes: a cancel made through one
/// is announced, as a cancel, to a listener of the other, and so is a
/// change of a job the other watches.
#[tokio::test]
async fn another_processs_changes_are_announced() {
    use asyncep::job::JobId;
    use std::time::Duration;

    let url = sqlite_url();
    let (here, there) = (
        SqliteStore::builder(&url).build().unwrap(),
        SqliteStore::builder(&url).build().unwrap(),
    );
    here.start().await.unwrap();
    there.start().await.unwrap();
    let id = JobId::new();
    here.create(new_job(id, "announced")).await.unwrap();
    let mut listener = here.changes().listen(id);
    here.watch(id, Duration::from_secs(60)).await.unwrap();
    let claimed = here.claim(&claim_one("announced")).await.unwrap();
    assert_eq!(claimed.jobs.len(), 1);
    // Whatever the claim announced here is heard; the cancel is next.
    let _ = tokio::time::timeout(Duration::from_millis(200), listener.changed()).await;
    there.cancel(id).await.unwrap();
    tokio::time::timeout(Duration::from_secs(10), listener.cancel_announced())
        .await
        .expect("the other process's cancel is announced here");
    here.shutdown().await;
    there.shutdown().await;
}
