//! A bounded load test on loopback: 2 MiB bodies against a memory store
//! with a small byte budget, in a server process of its own so its memory
//! can be read.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::{Value, json};

const BUDGET: usize = 32 * 1024 * 1024;
/// What the server holds beyond its jobs: the runtime and the binary
/// (about 10 MiB), request bodies in flight (8 connections, each body held
/// as bytes and as text while it is checked: up to about 6 MiB a request)
/// and the allocator's slack.
const OVERHEAD: usize = 96 * 1024 * 1024;
const REQUESTS: usize = 150;
const CONCURRENT: usize = 8;

/// The peak resident memory of a process, in bytes (`VmHWM`).
fn peak_rss(pid: u32) -> usize {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc status");
    let kib: usize = status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM");
    kib * 1024
}

/// The server process, killed when the test ends, even by a panic.
struct Server(std::process::Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_mib_bodies_stay_within_the_budget_and_every_accepted_job_completes() {
    let mut server = Server(
        Command::new(env!("CARGO_BIN_EXE_asyncep-test-budget"))
            .env(
                "BUDGET_BYTES",
                std::env::var("TEST_BUDGET_BYTES").unwrap_or_else(|_| BUDGET.to_string()),
            )
            .env("RUST_LOG", "off")
            .stdout(Stdio::piped())
            .spawn()
            .expect("the budget server starts"),
    );
    let mut line = String::new();
    BufReader::new(server.0.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port: u16 = line.trim().strip_prefix("port ").unwrap().parse().unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let body = json!({ "data": "x".repeat(2 * 1024 * 1024) }).to_string();

    let tickets = std::sync::Arc::new(AtomicUsize::new(REQUESTS));
    let mut tasks = Vec::new();
    for _ in 0..CONCURRENT {
        let (client, base, body, tickets) =
            (client.clone(), base.clone(), body.clone(), tickets.clone());
        tasks.push(tokio::spawn(async move {
            let (mut accepted, mut refused) = (Vec::new(), 0);
            while tickets
                .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1))
                .is_ok()
            {
                let response = client
                    .post(format!("{base}/upload"))
                    .header("content-type", "application/json")
                    .body(body.clone())
                    .send()
                    .await
                    .expect("the server answers");
                match response.status().as_u16() {
                    202 => {
                        let job: Value = response.json().await.unwrap();
                        accepted.push(job["id"].as_str().unwrap().to_owned());
                    }
                    503 => {
                        assert!(response.headers().contains_key("retry-after"));
                        refused += 1;
                    }
                    other => panic!("unexpected {other}"),
                }
            }
            (accepted, refused)
        }));
    }
    let (mut accepted, mut refused) = (Vec::new(), 0);
    for task in tasks {
        let (a, r) = task.await.unwrap();
        accepted.extend(a);
        refused += r;
    }
    assert_eq!(accepted.len() + refused, REQUESTS);
    assert!(refused > 0, "the budget was never reached");
    assert!(!accepted.is_empty());
    for id in &accepted {
        let done = asyncep_tests::wait_until(Duration::from_secs(60), async || {
            let job: Value = client
                .get(format!("{base}/jobs/{id}"))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            job["status"] == "Completed"
        })
        .await;
        assert!(done, "accepted job {id} did not complete");
    }
    let peak = peak_rss(server.0.id());
    eprintln!(
        "peak RSS {} MiB ({} accepted, {refused} refused)",
        peak >> 20,
        accepted.len()
    );
    drop(server);
    assert!(
        peak < BUDGET + OVERHEAD,
        "peak RSS {} MiB, over the {} MiB budget plus {} MiB overhead ({} accepted, {refused} refused)",
        peak >> 20,
        BUDGET >> 20,
        OVERHEAD >> 20,
        accepted.len()
    );
}
