//! Compile-fail tests of `#[async_endpoint]` with the `openapi` feature on; see `tests/ui.rs`.
