//! A multi-tenant API: the application's own authentication (an axum
//! middleware) names the caller, and asyncep keeps each tenant's jobs,
//! keys and results to that tenant.
//!
//! ```sh
//! cargo run --example tenants
//! curl -s -X POST localhost:3000/exports/q3 -H 'authorization: Bearer token-of-acme' \
//!      -H 'Idempotency-Key: q3-export'          # acme's job
//! curl -s -X POST localhost:3000/exports/q3 -H 'authorization: Bearer token-of-globex' \
//!      -H 'Idempotency-Key: q3-export'          # globex's own job, same key
//! curl -s localhost:3000/jobs/<acme's id> -H 'authorization: Bearer token-of-globex'   # 404
//! ```

use std::time::Duration;

use asyncep::{AsyncContext, Caller, JobError, async_endpoint};
use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};

/// The application's authentication: here, a fixed table of bearer tokens.
/// asyncep never sees the token: only the caller this puts in the request.
async fn authenticate(mut request: Request, next: Next) -> Response {
    let token = request
        .headers()
        .get("authorization")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "));
    let tenant = match token {
        Some("token-of-acme") => "acme",
        Some("token-of-globex") => "globex",
        _ => return StatusCode::UNAUTHORIZED.into_response(),
    };
    request.extensions_mut().insert(Caller::new(tenant));
    next.run(request).await
}

/// Exports a tenant's data: the handler acts for the caller that submitted
/// the job, whose credentials were never stored.
#[async_endpoint(job = "tenant-export", post = "/exports/<name>", retries = 2)]
async fn export(ctx: AsyncContext) -> Result<String, JobError> {
    let tenant = ctx
        .caller()
        .ok_or_else(|| JobError::permanent("an export needs a tenant"))?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    Ok(format!(
        "export {} of tenant {tenant} is ready",
        ctx.route_params["name"]
    ))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt().init();
    let runtime = asyncep::Runtime::builder().with_env()?.build()?;
    // The layer covers asyncep's routes: submits and job reads alike.
    let app = runtime
        .mount(axum::Router::new())
        .layer(middleware::from_fn(authenticate));
    let address = std::env::var("TENANTS_ADDR").unwrap_or_else(|_| "127.0.0.1:3000".into());
    let listener = tokio::net::TcpListener::bind(&address).await?;
    tracing::info!("tenants example on http://{address}");
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            tokio::signal::ctrl_c().await.ok();
        })
        .await?;
    runtime.shutdown().await;
    Ok(())
}
