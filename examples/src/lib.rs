//! Runnable examples of asyncep: `cargo run --example quickstart`.
