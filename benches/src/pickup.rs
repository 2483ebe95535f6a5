//! Pick-up latency on an idle system: from the submit request leaving the
//! client to the handler starting, one job at a time.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use asyncep::{AsyncContext, async_endpoint};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

use crate::stats::percentile;

static STARTED: Mutex<Option<mpsc::UnboundedSender<Instant>>> = Mutex::new(None);

/// Reports the moment it starts.
#[async_endpoint(job = "bench-pickup", post = "/pickup")]
async fn pickup(_ctx: AsyncContext) -> Result<(), String> {
    let now = Instant::now();
    if let Some(sender) = STARTED.lock().unwrap().as_ref() {
        let _ = sender.send(now);
    }
    Ok(())
}

/// p50 and p99 in microseconds over `samples` submits, on `store`.
pub async fn measure(
    store: std::sync::Arc<dyn asyncep::store::JobStore>,
    samples: usize,
) -> (u64, u64) {
    let (sender, mut started) = mpsc::unbounded_channel();
    *STARTED.lock().unwrap() = Some(sender);
    let runtime = asyncep::Runtime::builder()
        .shared_store(store)
        .workers(4)
        .build()
        .expect("the bench runtime");
    let app = runtime.mount(axum::Router::new());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    stream.set_nodelay(true).unwrap();
    let request = b"POST /pickup HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n";
    let mut buffer = vec![0_u8; 8192];
    let mut latencies = Vec::with_capacity(samples);
    for n in 0..samples + 20 {
        tokio::time::sleep(Duration::from_millis(5)).await; // idle between jobs
        let sent = Instant::now();
        stream.write_all(request).await.unwrap();
        let _ = stream.read(&mut buffer).await.unwrap(); // the 202
        let handler_started = tokio::time::timeout(Duration::from_secs(10), started.recv())
            .await
            .expect("the job was picked up")
            .unwrap();
        if n >= 20 {
            latencies.push(handler_started.duration_since(sent).as_micros() as u64);
        }
    }
    runtime.shutdown().await;
    (
        percentile(&mut latencies, 50.0),
        percentile(&mut latencies, 99.0),
    )
}
