//! The clients people already use, unmodified, against a live server on
//! every store: the Azure SDK's `LROPoller` (Python `azure-core`, with its
//! default `LROBasePolling`) and its JavaScript `createHttpPoller`
//! (`@azure/core-lro`) must return a completed job's result and raise on a
//! failed and on a canceled one (`tests/interop/`).

use asyncep_tests::TestServer;
use asyncep_tests::services::{interop_node, interop_python};

use crate::{Backend, on_every_store};

on_every_store!(
    azure_lro_poller_drives_jobs_to_their_end,
    azure_core_lro_poller_drives_jobs_to_their_end,
);

const INTEROP: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/interop");

async fn azure_lro_poller_drives_jobs_to_their_end(backend: Backend) {
    let Some(python) = interop_python() else {
        return;
    };
    drive(backend, &python, "azure_lro.py").await;
}

async fn azure_core_lro_poller_drives_jobs_to_their_end(backend: Backend) {
    let Some(node) = interop_node(INTEROP) else {
        return;
    };
    drive(backend, &node, "core_lro.mjs").await;
}

/// Runs an interop script against a live server on the backend's store.
async fn drive(backend: Backend, program: &str, script: &str) {
    // Absolute links, as the pollers need, from the request's own `Host`.
    let server = TestServer::start(backend.builder().links_from_request()).await;
    let output = tokio::process::Command::new(program)
        .arg(format!("{INTEROP}/{script}"))
        .arg(&server.base)
        .current_dir(INTEROP)
        .output()
        .await
        .expect("the interop script runs");
    let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
    assert!(
        output.status.success(),
        "{script}: the poller's expectations failed:\n{}\n{}",
        text(&output.stdout),
        text(&output.stderr)
    );
    assert!(text(&output.stdout).contains("all expectations held"));
}
