//! Every mistake `#[async_endpoint]` reports, with its message and span.
//!
//! Snapshots (`.stderr`) are written by rustc; refresh them deliberately with
//! `TRYBUILD=overwrite cargo test -p asyncep-ui-tests`, and review the diff.

#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.pass("tests/ui/pass/*.rs");
    for category in ["args", "route", "signature", "types"] {
        cases.compile_fail(format!("tests/ui/{category}/*.rs"));
    }
}
