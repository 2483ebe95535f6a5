//! asyncep's one integration test binary: real HTTP through the router, on
//! loopback, for every line of the HTTP contract; and the store conformance
//! suite against the memory store.

mod endpoints;
mod failures;
mod http_contract;
mod idempotency;
mod memory_store;
mod redis_store;
mod runtime;

use std::time::Duration;

use asyncep::{Runtime, RuntimeBuilder};

/// A runtime with the state every test endpoint needs and quick retries.
fn builder() -> RuntimeBuilder {
    Runtime::builder()
        .state(endpoints::Greeting("hello".into()))
        .default_backoff(Duration::from_millis(10))
        .workers(4)
}
