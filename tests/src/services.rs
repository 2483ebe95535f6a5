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
    match store.ping_blocking(Duration::from_secs(2)) {
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

/// [`redis_store`] as a trait object.
pub fn redis_dyn() -> Option<Arc<dyn JobStore>> {
    redis_store().map(|store| Arc::new(store) as Arc<dyn JobStore>)
}
