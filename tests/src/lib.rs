//! Shared pieces of asyncep's integration tests: a test server that speaks
//! real HTTP on loopback, and the store conformance suite.

pub mod conformance;
pub mod faults;
pub mod model;
mod server;
pub mod services;

pub use server::{TestServer, accepted_id, problem, wait_until};
