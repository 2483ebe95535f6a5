//! What `#[async_endpoint]` says when asyncep's `openapi` feature is on: a
//! body type without a schema is one error, on that type. A crate of its
//! own, because the feature changes what every body type must implement.
//!
//! Refresh the snapshots with `TRYBUILD=overwrite cargo test -p
//! asyncep-ui-tests-openapi`, and review the diff.

#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.pass("tests/ui/pass/*.rs");
    cases.compile_fail("tests/ui/fail/*.rs");
}
