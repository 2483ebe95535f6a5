//! The real services store tests talk to. Under CI (`CI=true` or
//! `ASYNCEP_REQUIRE_SERVICES=1`) a missing service fails the test; on a
//! developer's machine it skips it with a message.

use std::sync::Arc;
use std::time::Duration;

use asyncep::store::{JobStore, RedisStore};

/// The Redis server of the tests: `REDIS_URL`, or 127.0.0.1:6379.
pub fn redis_url() -> String {
    std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

fn required() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
        || std::env::var("ASYNCEP_REQUIRE_SERVICES").is_ok_and(|v| v == "1")
}

/// A Redis store with a prefix of its own, so tests never see each other's
/// keys; `None` (with a message) when Redis is not there and not required.
pub fn redis_store() -> Option<RedisStore> {
    let store = RedisStore::builder(redis_url())
        .prefix(format!("asyncep-test-{}", uuid::Uuid::new_v4()))
        .build()
        .expect("REDIS_URL is a valid Redis URL");
    match redis_answers(&redis_url()) {
        Ok(()) => Some(store),
        Err(error) if required() => panic!(
            "Redis is required here but does not answer at {}: {error}",
            redis_url()
        ),
        Err(error) => {
            eprintln!(
                "skipping: Redis does not answer at {} ({error}); set REDIS_URL",
                redis_url()
            );
            None
        }
    }
}

/// Whether a Redis server answers `PING` at `url`, asked synchronously.
fn redis_answers(url: &str) -> Result<(), redis::RedisError> {
    let mut connection =
        redis::Client::open(url)?.get_connection_with_timeout(Duration::from_secs(2))?;
    redis::cmd("PING")
        .query::<String>(&mut connection)
        .map(drop)
}

/// [`redis_store`] as a trait object.
pub fn redis_dyn() -> Option<Arc<dyn JobStore>> {
    redis_store().map(|store| Arc::new(store) as Arc<dyn JobStore>)
}

/// A `redis-server` of the test's own, on a free loopback port, with its
/// data in a temporary folder: for tests that stop and restart the server.
#[derive(Debug)]
pub struct OwnRedis {
    /// The port it listens on.
    pub port: u16,
    dir: std::path::PathBuf,
    child: Option<std::process::Child>,
    extra: Vec<String>,
}

impl OwnRedis {
    /// Starts one with the append-only file on (every write synced), or
    /// `None` when `redis-server` is not installed and not required.
    pub fn start() -> Option<Self> {
        Self::start_with(&[])
    }

    /// [`start`](Self::start), with more `redis-server` arguments.
    pub fn start_with(extra: &[&str]) -> Option<Self> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .ok()?
            .local_addr()
            .ok()?
            .port();
        let dir =
            std::env::temp_dir().join(format!("asyncep-redis-{port}-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).ok()?;
        let mut redis = Self {
            port,
            dir,
            child: None,
            extra: extra.iter().map(|arg| (*arg).to_owned()).collect(),
        };
        match redis.spawn() {
            Ok(()) => Some(redis),
            Err(error) if required() => panic!("redis-server is required here: {error}"),
            Err(error) => {
                eprintln!("skipping: cannot start redis-server ({error})");
                None
            }
        }
    }

    /// `redis://127.0.0.1:port`
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    fn spawn(&mut self) -> Result<(), String> {
        let child = std::process::Command::new("redis-server")
            .args([
                "--bind",
                "127.0.0.1",
                "--port",
                &self.port.to_string(),
                "--appendonly",
                "yes",
            ])
            .args(["--appendfsync", "always", "--save", "", "--dir"])
            .arg(&self.dir)
            .args(&self.extra)
            .stdout(std::process::Stdio::null())
            .spawn()
            .map_err(|e| format!("redis-server did not start: {e}"))?;
        self.child = Some(child);
        let client = redis::Client::open(self.url()).map_err(|e| e.to_string())?;
        for _ in 0..100 {
            let answers = client
                .get_connection_with_timeout(Duration::from_millis(200))
                .is_ok_and(|mut connection| {
                    redis::cmd("PING").query::<String>(&mut connection).is_ok()
                });
            if answers {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Err(format!("redis-server on port {} did not answer", self.port))
    }

    /// Kills the server (SIGKILL: no goodbye, only what is on disk stays).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port and data.
    pub fn restart(&mut self) {
        self.kill();
        self.spawn().expect("redis-server restarts");
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A TCP proxy on loopback in front of a server, that can lose a reply:
/// armed, it forwards the client's next request, lets the server carry it
/// out, and closes the connection before the answer reaches the client (a
/// network fault between the two, not a fake server).
#[derive(Debug)]
pub struct LossyProxy {
    /// The port it listens on.
    pub port: u16,
    armed: std::sync::Arc<std::sync::atomic::AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl LossyProxy {
    /// Starts a proxy to `target` (`host:port`).
    pub async fn start(target: String) -> Self {
        use std::sync::atomic::{AtomicBool, Ordering};
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a loopback port");
        let port = listener.local_addr().expect("an address").port();
        let armed = std::sync::Arc::new(AtomicBool::new(false));
        let shared = armed.clone();
        let task = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let Ok(mut server) = tokio::net::TcpStream::connect(&target).await else {
                    continue;
                };
                let armed = shared.clone();
                tokio::spawn(async move {
                    let (mut up, mut down) = (vec![0; 64 * 1024], vec![0; 64 * 1024]);
                    loop {
                        tokio::select! {
                            read = client.read(&mut up) => {
                                let Ok(n @ 1..) = read else { return };
                                if server.write_all(&up[..n]).await.is_err() {
                                    return;
                                }
                                if armed.swap(false, Ordering::AcqRel) {
                                    // The server runs it; its answer is lost.
                                    tokio::time::sleep(Duration::from_millis(200)).await;
                                    return;
                                }
                            }
                            read = server.read(&mut down) => {
                                let Ok(n @ 1..) = read else { return };
                                if client.write_all(&down[..n]).await.is_err() {
                                    return;
                                }
                            }
                        }
                    }
                });
            }
        });
        Self { port, armed, task }
    }

    /// Loses the answer to the next request that passes.
    pub fn lose_next_reply(&self) {
        self.armed.store(true, std::sync::atomic::Ordering::Release);
    }

    /// Whether the armed loss has happened.
    pub fn lost(&self) -> bool {
        !self.armed.load(std::sync::atomic::Ordering::Acquire)
    }
}

impl Drop for LossyProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The PostgreSQL database of the tests: `DATABASE_URL`, or the local
/// `test` database.
pub fn postgres_url() -> String {
    std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

/// Runs `work` on a runtime of its own, on a thread of its own (for
/// set-up steps that must not leave connections on the caller's runtime).
fn on_own_runtime<T: Send + 'static>(
    work: impl std::future::Future<Output = T> + Send + 'static,
) -> T {
    std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime")
            .block_on(work)
    })
    .join()
    .expect("the set-up thread")
}

/// Drops the schemas earlier test runs left, once per test process: those
/// named more than an hour ago, never a schema a test running now (in
/// another process, under nextest) still uses.
fn drop_old_test_schemas() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let url = postgres_url();
        on_own_runtime(async move {
            use sqlx::Connection;
            let Ok(mut connection) = sqlx::PgConnection::connect(&url).await else {
                return;
            };
            let schemas: Vec<String> = sqlx::query_scalar(
                "SELECT nspname::text FROM pg_namespace WHERE nspname LIKE 'asyncep_t_%'",
            )
            .fetch_all(&mut connection)
            .await
            .unwrap_or_default();
            let stale = |schema: &String| {
                schema
                    .strip_prefix("asyncep_t_")
                    .and_then(|rest| rest.split('_').next())
                    .and_then(|secs| secs.parse::<u64>().ok())
                    .is_none_or(|secs| secs + 3600 < unix_secs())
            };
            for schema in schemas.iter().filter(|s| stale(s)) {
                let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "DROP SCHEMA IF EXISTS {schema} CASCADE"
                )))
                .execute(&mut connection)
                .await;
            }
        });
    });
}

/// Seconds since the Unix epoch, which test schemas are named after.
fn unix_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| since.as_secs())
}

/// A PostgreSQL store in a schema of its own, migrated, so tests never see
/// each other's jobs; `None` (with a message) when PostgreSQL is not there
/// and not required.
pub fn postgres_store() -> Option<asyncep::store::PostgresStore> {
    drop_old_test_schemas();
    let schema = format!(
        "asyncep_t_{}_{}",
        unix_secs(),
        uuid::Uuid::new_v4().simple()
    );
    let build = |schema: String| {
        asyncep::store::PostgresStore::builder(postgres_url())
            .schema(schema)
            .max_connections(10)
            .build()
            .expect("DATABASE_URL is a PostgreSQL URL")
    };
    let migrating = build(schema.clone());
    let started = on_own_runtime(async move {
        let started = JobStore::start(&migrating).await;
        JobStore::shutdown(&migrating).await;
        migrating.pool().close().await;
        started
    });
    match started {
        Ok(()) => Some(build(schema)),
        Err(error) if required() => panic!(
            "PostgreSQL is required here but cannot be used at {}: {error}",
            postgres_url()
        ),
        Err(error) => {
            eprintln!(
                "skipping: PostgreSQL cannot be used at {} ({error}); set DATABASE_URL",
                postgres_url()
            );
            None
        }
    }
}

/// The folder of the SQLite files tests make; files over an hour old (an
/// earlier run's) are removed the first time a test process asks.
pub fn sqlite_dir() -> std::path::PathBuf {
    static ONCE: std::sync::Once = std::sync::Once::new();
    let dir = std::env::temp_dir().join("asyncep-sqlite-tests");
    ONCE.call_once(|| {
        std::fs::create_dir_all(&dir).expect("a folder for the SQLite test files");
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let stale = entry
                .file_name()
                .to_str()
                .and_then(|name| name.split('_').next())
                .and_then(|secs| secs.parse::<u64>().ok())
                .is_none_or(|secs| secs + 3600 < unix_secs());
            if stale {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    });
    dir
}

/// A fresh SQLite file's URL, in [`sqlite_dir`].
pub fn sqlite_url() -> String {
    let file = sqlite_dir().join(format!(
        "{}_{}.db",
        unix_secs(),
        uuid::Uuid::new_v4().simple()
    ));
    format!("sqlite://{}", file.display())
}

/// A store in a fresh SQLite file, its tables created. SQLite is built into
/// asyncep: it is always there.
pub fn sqlite_store() -> asyncep::store::SqliteStore {
    sqlite_store_at(&sqlite_url())
}

/// A store in the SQLite file `url` names, its tables created.
pub fn sqlite_store_at(url: &str) -> asyncep::store::SqliteStore {
    let url = url.to_owned();
    let build = |url: &str| {
        asyncep::store::SqliteStore::builder(url)
            .build()
            .expect("a test SQLite file")
    };
    let migrating = build(&url);
    on_own_runtime(async move {
        JobStore::start(&migrating)
            .await
            .expect("the SQLite store starts");
        JobStore::shutdown(&migrating).await;
    });
    build(&url)
}

/// [`sqlite_store`] as a trait object.
pub fn sqlite_dyn() -> Option<Arc<dyn JobStore>> {
    Some(Arc::new(sqlite_store()) as Arc<dyn JobStore>)
}

/// [`postgres_store`] as a trait object.
pub fn postgres_dyn() -> Option<Arc<dyn JobStore>> {
    postgres_store().map(|store| Arc::new(store) as Arc<dyn JobStore>)
}

/// A PostgreSQL cluster of the test's own (initdb in a temporary folder,
/// run as the `postgres` user), on a free loopback port: for tests that
/// crash and restart the server.
#[derive(Debug)]
pub struct OwnPostgres {
    /// The port it listens on.
    pub port: u16,
    dir: std::path::PathBuf,
    bin: std::path::PathBuf,
}

impl OwnPostgres {
    /// Creates and starts one, or `None` when PostgreSQL's server binaries
    /// are not installed and not required.
    pub fn start() -> Option<Self> {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .ok()
            .and_then(|versions| versions.filter_map(Result::ok).map(|v| v.path()).max())
            .map(|version| version.join("bin"));
        let Some(bin) = bin.filter(|bin| bin.join("initdb").exists()) else {
            if required() {
                panic!("PostgreSQL's server binaries are required here (initdb, pg_ctl)");
            }
            eprintln!("skipping: no PostgreSQL server binaries");
            return None;
        };
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .ok()?
            .local_addr()
            .ok()?
            .port();
        let dir = std::env::temp_dir().join(format!("asyncep-pg-{port}-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).ok()?;
        let own = Self { port, dir, bin };
        let chown = std::process::Command::new("chown")
            .args(["-R", "postgres:postgres"])
            .arg(&own.dir)
            .status();
        let initdb = own
            .as_postgres("initdb")
            .args(["-A", "trust", "-U", "postgres", "--no-sync", "-D"])
            .arg(own.dir.join("data"))
            .stdout(std::process::Stdio::null())
            .status();
        match (chown, initdb) {
            (Ok(c), Ok(i)) if c.success() && i.success() => {}
            other if required() => panic!("could not create a PostgreSQL cluster: {other:?}"),
            other => {
                eprintln!("skipping: could not create a PostgreSQL cluster ({other:?})");
                return None;
            }
        }
        own.run();
        Some(own)
    }

    fn as_postgres(&self, tool: &str) -> std::process::Command {
        let mut command = std::process::Command::new("runuser");
        command
            .args(["-u", "postgres", "--"])
            .arg(self.bin.join(tool));
        command
    }

    fn run(&self) {
        let options = format!(
            "-p {} -c listen_addresses=127.0.0.1 -k {}",
            self.port,
            self.dir.display()
        );
        let started = self
            .as_postgres("pg_ctl")
            .args(["-w", "-D"])
            .arg(self.dir.join("data"))
            .args(["-o", &options, "-l"])
            .arg(self.dir.join("log"))
            .arg("start")
            .stdout(std::process::Stdio::null())
            .status()
            .expect("pg_ctl runs");
        assert!(started.success(), "the private PostgreSQL did not start");
    }

    /// `postgres://postgres@127.0.0.1:port/postgres`
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// Stops the server at once, as a crash would (`-m immediate`: no
    /// checkpoint; what was committed is in the WAL).
    pub fn crash(&self) {
        let _ = self
            .as_postgres("pg_ctl")
            .args(["-D"])
            .arg(self.dir.join("data"))
            .args(["-m", "immediate", "stop"])
            .stdout(std::process::Stdio::null())
            .status();
    }

    /// Starts it again on the same port and data.
    pub fn restart(&self) {
        self.crash();
        self.run();
    }
}

impl Drop for OwnPostgres {
    fn drop(&mut self) {
        self.crash();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The Python that runs the interop scripts, with `azure-core` installed:
/// `ASYNCEP_INTEROP_PYTHON` (`.ci/run` sets it to a virtual environment of
/// its own), else `python3`. `None` (with a message) when it has no
/// `azure-core` and it is not required.
pub fn interop_python() -> Option<String> {
    let python = std::env::var("ASYNCEP_INTEROP_PYTHON").unwrap_or_else(|_| "python3".to_owned());
    let found = std::process::Command::new(&python)
        .args(["-c", "import azure.core"])
        .output();
    match found {
        Ok(output) if output.status.success() => Some(python),
        other if required() => panic!(
            "`{python}` with azure-core is required here (pip install azure-core): {other:?}"
        ),
        _ => {
            eprintln!("skipping: `{python}` has no azure-core (pip install azure-core)");
            None
        }
    }
}

/// Node, to run the JavaScript interop script in `dir`, whose
/// `node_modules` holds `@azure/core-lro` (`npm ci` there; `.ci/run` does
/// it). `None` (with a message) when either is missing and not required.
pub fn interop_node(dir: &str) -> Option<String> {
    let installed = std::path::Path::new(dir)
        .join("node_modules/@azure/core-lro")
        .is_dir();
    let node = std::process::Command::new("node").arg("--version").output();
    match node {
        Ok(output) if output.status.success() && installed => Some("node".to_owned()),
        other if required() => panic!(
            "node with @azure/core-lro is required here (`npm ci` in {dir}): \
             installed: {installed}, node: {other:?}"
        ),
        _ => {
            eprintln!("skipping: no node, or no @azure/core-lro in {dir} (`npm ci` there)");
            None
        }
    }
}

/// Schemathesis' command line, `st`, beside the interop Python (`.ci/run`
/// installs it into the same virtual environment), else on the `PATH`.
/// `None` (with a message) when it is missing and not required.
pub fn schemathesis() -> Option<String> {
    let beside_python = std::env::var("ASYNCEP_INTEROP_PYTHON")
        .ok()
        .and_then(|python| {
            let st = std::path::Path::new(&python).parent()?.join("st");
            st.is_file().then(|| st.display().to_string())
        });
    let st = beside_python.unwrap_or_else(|| "st".to_owned());
    match std::process::Command::new(&st).arg("--version").output() {
        Ok(output) if output.status.success() => Some(st),
        other if required() => {
            panic!("schemathesis (`st`) is required here (pip install schemathesis): {other:?}")
        }
        _ => {
            eprintln!("skipping: no schemathesis (`st`; pip install schemathesis)");
            None
        }
    }
}

/// The checks every schemathesis run makes: the list, and no other.
pub const SCHEMATHESIS_CHECKS: &str = "not_a_server_error,status_code_conformance,\
content_type_conformance,response_schema_conformance,response_headers_conformance";

/// Runs schemathesis against the document at `base` + `document_path`,
/// with every check of [`SCHEMATHESIS_CHECKS`], and panics with its report
/// on any failure.
pub async fn run_schemathesis(st: &str, base: &str, document_path: &str, max_examples: u32) {
    let output = tokio::process::Command::new(st)
        .arg("run")
        .arg(format!("{base}{document_path}"))
        .args(["--checks", SCHEMATHESIS_CHECKS])
        .args(["--max-examples", &max_examples.to_string()])
        // One worker: hypothesis' lambda descriptions race in parallel
        // threads on some CPython 3.11 releases (`SystemError: AST
        // constructor recursion depth mismatch`).
        .args(["--workers", "1"])
        .args(["--request-timeout", "20"])
        .arg("--continue-on-failure")
        .args(["--seed", "1"])
        .env("NO_COLOR", "1")
        .current_dir(std::env::temp_dir())
        .output()
        .await
        .expect("schemathesis runs");
    let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
    assert!(
        output.status.success(),
        "schemathesis found responses that break the document:\n{}\n{}",
        text(&output.stdout),
        text(&output.stderr)
    );
}
