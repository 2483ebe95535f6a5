//! Runnable examples of asyncep: `cargo run --example quickstart`.
//!
//! [`reports`] holds the handlers of the split deployment examples
//! (`redis_api` and `redis_worker`): both binaries link this one module, so
//! the API accepts exactly the jobs the workers can run.

pub mod reports;
