//! The Node job queues measured beside asyncep (graphile-worker on
//! PostgreSQL, BullMQ on Redis), run by the scripts in `benches/node/`.

use std::path::PathBuf;
use std::process::Command;

fn folder() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/node"))
}

/// Installs the pinned packages unless they are there. `npm install`, not
/// `npm ci`: npm 11 refuses `ci` on this lock file (it finds the optional
/// packages of other platforms missing), while `install` keeps the pinned
/// versions.
pub fn install() {
    if folder().join("node_modules").exists() {
        return;
    }
    eprintln!("installing the Node references (npm install in benches/node)");
    let status = Command::new("npm")
        .args(["install", "--no-audit", "--no-fund"])
        .current_dir(folder())
        .status()
        .expect("npm runs (Node 20 or later is needed for the Node references)");
    assert!(status.success(), "npm install failed in benches/node");
}

/// Jobs per second as the script `script` reports it.
pub fn rate(script: &str, args: &[&str]) -> f64 {
    install();
    let output = Command::new("node")
        .arg(script)
        .args(args)
        .current_dir(folder())
        .output()
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = stdout.lines().last().unwrap_or("");
    serde_json::from_str::<serde_json::Value>(line)
        .ok()
        .and_then(|value| value["rate"].as_f64())
        .unwrap_or_else(|| {
            panic!(
                "{script} reported no rate: {line}\n{}",
                String::from_utf8_lossy(&output.stderr)
            )
        })
}
