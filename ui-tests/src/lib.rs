//! Compile-fail tests of `#[async_endpoint]`; see `tests/ui.rs`.
