//! An HTTP/1.1 load generator: keep-alive connections, one request in flight
//! each, every latency recorded. Run it on its own core (`taskset`).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::stats::percentile;

/// The ~100-byte JSON body every submit scenario sends.
pub const BODY: &str = r#"{"customer":"c-000042","report":"quarterly-sales","quantity":12,"tags":["eu","q3"],"note":"bench"}"#;

/// What one load run measured.
#[derive(Debug, Serialize, Deserialize)]
pub struct LoadResult {
    pub requests: u64,
    pub errors: u64,
    pub seconds: f64,
    pub p50_us: u64,
    pub p99_us: u64,
}

impl LoadResult {
    pub fn rps(&self) -> f64 {
        self.requests as f64 / self.seconds
    }
}

fn request(path: &str) -> Vec<u8> {
    format!(
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{BODY}",
        BODY.len()
    )
    .into_bytes()
}

/// Sends `POST path` over `connections` connections for `duration`.
pub async fn run(address: &str, path: &str, connections: usize, duration: Duration) -> LoadResult {
    let request = request(path);
    let started = Instant::now();
    let deadline = started + duration;
    let tasks: Vec<_> = (0..connections)
        .map(|_| {
            let (address, request) = (address.to_owned(), request.clone());
            tokio::spawn(async move { connection(&address, &request, deadline).await })
        })
        .collect();
    let mut latencies = Vec::new();
    let mut errors = 0;
    for task in tasks {
        let (samples, failed) = task.await.expect("a load task");
        latencies.extend(samples);
        errors += failed;
    }
    let seconds = started.elapsed().as_secs_f64();
    LoadResult {
        requests: latencies.len() as u64,
        errors,
        seconds,
        p50_us: percentile(&mut latencies, 50.0),
        p99_us: percentile(&mut latencies, 99.0),
    }
}

async fn connection(address: &str, request: &[u8], deadline: Instant) -> (Vec<u64>, u64) {
    let mut samples = Vec::with_capacity(100_000);
    let mut errors = 0;
    let (mut stream, mut buffer) = connect(address).await;
    while Instant::now() < deadline {
        let sent = Instant::now();
        if stream.write_all(request).await.is_err() {
            errors += 1;
            break;
        }
        match read_response(&mut stream, &mut buffer).await {
            Some(status) if (200..300).contains(&status) => {
                samples.push(sent.elapsed().as_micros() as u64)
            }
            Some(_) => errors += 1,
            None => {
                errors += 1;
                break;
            }
        }
    }
    (samples, errors)
}

/// Sends `total` requests `POST path` over `connections` connections, as
/// fast as they are answered; panics unless every one is accepted.
pub async fn send(address: &str, path: &str, connections: usize, total: usize) {
    let request = request(path);
    let left = Arc::new(AtomicUsize::new(total));
    let tasks: Vec<_> = (0..connections)
        .map(|_| {
            let (address, request, left) = (address.to_owned(), request.clone(), left.clone());
            tokio::spawn(async move {
                let (mut stream, mut buffer) = connect(&address).await;
                let take = |n: usize| n.checked_sub(1);
                while left
                    .fetch_update(Ordering::AcqRel, Ordering::Acquire, take)
                    .is_ok()
                {
                    stream.write_all(&request).await.expect("a request sent");
                    let status = read_response(&mut stream, &mut buffer).await;
                    assert_eq!(status, Some(202), "the request was accepted");
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("a sending task");
    }
}

/// A keep-alive connection to `address`, and a buffer for its responses.
async fn connect(address: &str) -> (TcpStream, Vec<u8>) {
    let stream = TcpStream::connect(address)
        .await
        .expect("the server accepts");
    stream.set_nodelay(true).ok();
    (stream, vec![0_u8; 16 * 1024])
}

/// Reads one response; returns its status.
async fn read_response(stream: &mut TcpStream, buffer: &mut [u8]) -> Option<u16> {
    let mut filled = 0;
    loop {
        let n = stream.read(&mut buffer[filled..]).await.ok()?;
        if n == 0 {
            return None;
        }
        filled += n;
        let head = &buffer[..filled];
        if let Some(end) = head.windows(4).position(|w| w == b"\r\n\r\n") {
            let text = std::str::from_utf8(&head[..end]).ok()?;
            let status: u16 = text.get(9..12)?.parse().ok()?;
            let length: usize = text
                .lines()
                .find_map(|line| {
                    let (name, value) = line.split_once(':')?;
                    name.eq_ignore_ascii_case("content-length")
                        .then(|| value.trim().parse().ok())?
                })
                .unwrap_or(0);
            let mut have = filled - (end + 4);
            while have < length {
                let n = stream.read(&mut buffer[..]).await.ok()?;
                if n == 0 {
                    return None;
                }
                have += n;
            }
            return Some(status);
        }
        if filled == buffer.len() {
            return None;
        }
    }
}
