//! Configuration that is not code: the `ASYNCEP_*` environment variables,
//! and [`ConfigError`], the one error of a runtime that cannot be built.

mod env;
mod error;

#[cfg(test)]
pub(crate) use env::vars;
pub(crate) use env::{Overrides, StoreUrl, StoreVars};
pub use error::ConfigError;
