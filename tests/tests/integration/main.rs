//! asyncep's one integration test binary: real HTTP through the router, on
//! loopback, for every line of the HTTP contract, on every store; and the
//! store conformance suite.

mod budget;
mod callers;
mod control;
mod endpoints;
mod failures;
mod faults;
mod http_contract;
mod http_edges;
mod idempotency;
mod interop;
mod memory_only;
mod memory_store;
mod metrics;
mod operator;
mod postgres_only;
mod postgres_store;
mod processes;
mod redis_only;
mod redis_store;
mod runtime;
mod sqlite_only;
mod sqlite_store;
mod stored;
mod submit;
mod traces;

use std::sync::Arc;
use std::time::Duration;

use asyncep::store::{JobStore, MemoryStore};
use asyncep::{Runtime, RuntimeBuilder};

/// The store a case runs against.
pub(crate) struct Backend {
    pub(crate) store: Arc<dyn JobStore>,
}

impl Backend {
    fn memory() -> Option<Self> {
        Some(Self {
            store: Arc::new(MemoryStore::new()),
        })
    }

    fn redis() -> Option<Self> {
        asyncep_tests::services::redis_dyn().map(|store| Self { store })
    }

    fn postgres() -> Option<Self> {
        asyncep_tests::services::postgres_dyn().map(|store| Self { store })
    }

    fn sqlite() -> Option<Self> {
        asyncep_tests::services::sqlite_dyn().map(|store| Self { store })
    }

    /// A runtime on this store, with the state every test endpoint needs
    /// and quick retries.
    pub(crate) fn builder(&self) -> RuntimeBuilder {
        Runtime::builder()
            .shared_store(self.store.clone())
            .state(endpoints::Greeting("hello".into()))
            .default_backoff(Duration::from_millis(10))
            .lease(Duration::from_secs(5))
            .workers(4)
    }
}

/// Runs each case, an `async fn(Backend)`, as a test on every store.
macro_rules! on_every_store {
    ($($case:ident),* $(,)?) => {
        mod memory {
            $(
                #[tokio::test]
                async fn $case() {
                    super::$case(crate::Backend::memory().unwrap()).await
                }
            )*
        }
        mod redis {
            $(
                #[tokio::test]
                async fn $case() {
                    if let Some(backend) = crate::Backend::redis() {
                        super::$case(backend).await
                    }
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $case() {
                    if let Some(backend) = crate::Backend::postgres() {
                        super::$case(backend).await
                    }
                }
            )*
        }
        mod sqlite {
            $(
                #[tokio::test]
                async fn $case() {
                    super::$case(crate::Backend::sqlite().unwrap()).await
                }
            )*
        }
    };
}
pub(crate) use on_every_store;
