use std::time::Duration;

use asyncep::{Runtime, RuntimeBuilder};
use serde_json::Value;
use tokio::net::TcpListener;

/// How long a test waits for a job before it fails: generous, because CI
/// machines are slow and shared. Nothing here measures speed.
const PATIENCE: Duration = Duration::from_secs(30);

/// A runtime served over real HTTP on 127.0.0.1.
#[derive(Debug)]
pub struct TestServer {
    /// `http://127.0.0.1:port`
    pub base: String,
    /// A client without a connection limit.
    pub client: reqwest::Client,
    /// The runtime behind the server.
    pub runtime: Runtime,
}

impl TestServer {
    /// Serves `runtime.mount(Router::new())`.
    pub async fn start(builder: RuntimeBuilder) -> Self {
        let runtime = builder.build().expect("the test runtime builds");
        Self::serve(runtime.clone(), runtime.mount(axum::Router::new())).await
    }

    /// Serves any router (for the API-only and default-runtime cases).
    pub async fn serve(runtime: Runtime, app: axum::Router) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a loopback port");
        let base = format!("http://{}", listener.local_addr().expect("an address"));
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self {
            base,
            client: reqwest::Client::new(),
            runtime,
        }
    }

    /// The full URL of `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// `POST path` with a JSON body.
    pub async fn post_json(&self, path: &str, body: &Value) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .json(body)
            .send()
            .await
            .expect("the server answers")
    }

    /// Submits with a JSON body and returns the accepted job's id.
    pub async fn submit(&self, path: &str, body: &Value) -> String {
        accepted_id(self.post_json(path, body).await).await
    }

    /// `GET /jobs/{id}`.
    pub async fn get_job(&self, id: &str) -> reqwest::Response {
        self.client
            .get(self.url(&format!("/jobs/{id}")))
            .send()
            .await
            .expect("the server answers")
    }

    /// `GET /jobs/{id}` as JSON.
    pub async fn job(&self, id: &str) -> Value {
        let response = self.get_job(id).await;
        assert_eq!(response.status(), 200, "GET /jobs/{id}");
        response.json().await.expect("a job document")
    }

    /// Checks that no job `id` is stored (`GET /jobs/{id}` is `404`).
    pub async fn assert_not_stored(&self, id: &str) {
        let response = self.get_job(id).await;
        assert_eq!(response.status(), 404, "a refused request stored job {id}");
    }

    /// Polls the job until `done` holds of its document.
    pub async fn wait_for(&self, id: &str, done: impl Fn(&Value) -> bool) -> Value {
        let mut last = Value::Null;
        let reached = wait_until(PATIENCE, async || {
            last = self.job(id).await;
            done(&last)
        })
        .await;
        assert!(
            reached,
            "job {id} did not reach the expected state; last seen: {last:#}"
        );
        last
    }

    /// Polls the job as the caller `tenant` (named by `x-test-tenant`)
    /// until `done` holds of its document.
    pub async fn wait_until_as(
        &self,
        tenant: &str,
        id: &str,
        done: impl Fn(&Value) -> bool,
    ) -> Value {
        let mut last = Value::Null;
        let reached = wait_until(PATIENCE, async || {
            let response = self
                .client
                .get(self.url(&format!("/jobs/{id}")))
                .header("x-test-tenant", tenant)
                .send()
                .await
                .expect("the server answers");
            last = response.json().await.unwrap_or(Value::Null);
            done(&last)
        })
        .await;
        assert!(
            reached,
            "job {id} did not reach the expected state; last seen: {last:#}"
        );
        last
    }

    /// Polls the job until its status is `status`.
    pub async fn wait_for_status(&self, id: &str, status: &str) -> Value {
        self.wait_for(id, |job| job["status"] == status).await
    }
}

/// Checks that a submit was accepted (`202`, a job document) and returns
/// the job's id.
pub async fn accepted_id(response: reqwest::Response) -> String {
    assert_eq!(response.status(), 202, "the submit was not accepted");
    let job: Value = response.json().await.expect("a job document");
    job["id"].as_str().expect("an id").to_owned()
}

/// Checks that `response` is an RFC 9457 problem with `status` and every
/// member asyncep writes, and returns its body.
pub async fn problem(response: reqwest::Response, status: u16) -> Value {
    assert_eq!(response.status(), status);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    let body: Value = response.json().await.unwrap();
    for member in ["type", "title", "status", "detail"] {
        assert!(
            body.get(member).is_some(),
            "problem lacks `{member}`: {body}"
        );
    }
    assert_eq!(body["status"], status);
    body
}

/// Checks `condition` every 10 ms until it holds or `patience` runs out.
pub async fn wait_until(patience: Duration, mut condition: impl AsyncFnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + patience;
    loop {
        if condition().await {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
