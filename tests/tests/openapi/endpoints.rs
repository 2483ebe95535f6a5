//! One endpoint of each shape the document must describe.

use std::time::Duration;

use asyncep::http::Problem;
use asyncep::{AsyncContext, JobError, async_endpoint};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

/// An order line.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub(crate) struct Order {
    /// What is ordered.
    sku: String,
    /// How many.
    quantity: u32,
    /// Where it goes.
    address: Address,
    /// Anything the customer added.
    note: Option<String>,
}

/// A postal address.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub(crate) struct Address {
    city: String,
    lines: Vec<String>,
}

#[derive(Debug, Serialize)]
pub(crate) struct Placed {
    customer: String,
    sku: String,
    quantity: u32,
}

/// Places an order.
///
/// The customer's order is checked, stored, and placed in the background.
#[async_endpoint(job = "place-order", post = "/orders/{customer}", retries = 2)]
async fn place_order(ctx: AsyncContext<Order>) -> Result<Placed, JobError> {
    let _ = (
        &ctx.request.address.city,
        &ctx.request.address.lines,
        &ctx.request.note,
    );
    Ok(Placed {
        customer: ctx.route_params["customer"].clone(),
        sku: ctx.request.sku,
        quantity: ctx.request.quantity,
    })
}

/// Archives a file tree (no body; a wildcard route).
#[async_endpoint(job = "archive", put = "/archives/{*path}")]
async fn archive(ctx: AsyncContext) -> Result<String, String> {
    Ok(format!("archived {}", ctx.route_params["path"]))
}

/// A payment to approve.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub(crate) struct Payment {
    amount: i64,
}

async fn within_limit(ctx: &AsyncContext<Payment>) -> Result<(), Problem> {
    if ctx.request.amount > 1_000 {
        return Err(Problem::new(
            StatusCode::FORBIDDEN,
            "payments over 1000 need a second approver",
        ));
    }
    Ok(())
}

/// Approves a payment, within the limit its `validate` function checks.
#[async_endpoint(job = "approve", post = "/approvals", validate = within_limit)]
async fn approve(ctx: AsyncContext<Payment>) -> Result<i64, String> {
    Ok(ctx.request.amount)
}

/// Rebuilds the index: fails for good, so its jobs end `Failed`.
#[async_endpoint(job = "reindex", get = "/reindex", retries = 0)]
async fn reindex(_ctx: AsyncContext) -> Result<(), JobError> {
    Err(JobError::permanent("the index is read-only"))
}

/// Drains a queue for a while, reporting progress; stops when canceled.
#[async_endpoint(job = "drain", delete = "/queues/{name}", retries = 0)]
async fn drain(ctx: AsyncContext) -> Result<u32, String> {
    for step in 1..=5 {
        if ctx.cancellation.is_cancelled() {
            return Err("canceled".into());
        }
        ctx.progress(&serde_json::json!({ "step": step, "of": 5 }));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(5)
}

/// Settings in a patch: no body is read.
#[async_endpoint(job = "touch", patch = "/settings/{key}")]
async fn touch(ctx: AsyncContext) -> Result<String, String> {
    Ok(ctx.route_params["key"].clone())
}
