use asyncep::{async_endpoint, AsyncContext, JobError, State};
use serde::Deserialize;

#[derive(Deserialize)]
struct Req {
    n: u32,
}

#[derive(Clone)]
struct Db;

async fn check(ctx: &AsyncContext<Req>) -> Result<(), asyncep::http::Problem> {
    let _ = ctx.request.n;
    Ok(())
}

#[async_endpoint(job = "with-body", post = "/a/<id>", retries = 0, timeout = "1m30s", backoff = "500ms", validate = check)]
async fn with_body(ctx: AsyncContext<Req>) -> Result<u32, JobError> {
    Ok(ctx.request.n)
}

#[async_endpoint(job = "no-body", delete = "/b/{id}/<rest..>")]
pub async fn no_body(_ctx: asyncep::AsyncContext) -> Result<(), String> {
    Ok(())
}

#[async_endpoint(job = "stateful", get = "/c")]
async fn stateful(_ctx: AsyncContext, State(_db): State<Db>) -> std::result::Result<Vec<u8>, std::io::Error> {
    Ok(vec![])
}

fn main() {}
