//! The submit path without sockets: requests through each router in this
//! process, to compare the handlers' own cost (a tool for profiling, not a
//! figure of the table).

use std::time::Instant;

use axum::body::Body;
use axum::http::Request;
use tower::ServiceExt;

use crate::load::BODY;

fn request() -> Request<Body> {
    Request::post("/submit/42")
        .header("host", "127.0.0.1")
        .header("content-type", "application/json")
        .header("content-length", BODY.len())
        .body(Body::from(BODY))
        .unwrap()
}

async fn time(router: &axum::Router, requests: usize) -> f64 {
    let started = Instant::now();
    for _ in 0..requests {
        let response = router.clone().oneshot(request()).await.unwrap();
        assert!(response.status().is_success());
        let _ = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
    }
    started.elapsed().as_nanos() as f64 / requests as f64
}

/// Prints ns per request for the bare handler and asyncep (memory store).
pub async fn run(requests: usize) {
    let bare = crate::servers::router("bare");
    let asyncep = crate::servers::router("memory");
    for _ in 0..3 {
        let (b, a) = (time(&bare, requests).await, time(&asyncep, requests).await);
        println!(
            "bare {b:.0} ns, asyncep {a:.0} ns, extra {:.0} ns ({:.0} %)",
            a - b,
            (a / b - 1.0) * 100.0
        );
    }
}
