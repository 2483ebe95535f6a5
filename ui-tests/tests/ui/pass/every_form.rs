use asyncep::{async_endpoint, AsyncContext, JobError, State};
use serde::{Deserialize, Serialize};

#[derive(Deserialize, Serialize)]
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

#[async_endpoint(job = "handled", put = "/d/<id>", handle = Handled)]
async fn handled(ctx: AsyncContext<Req>) -> Result<u32, JobError> {
    Ok(ctx.request.n)
}

#[async_endpoint(job = "handled-no-body", post = "/e", handle = HandledNoBody)]
pub async fn handled_no_body(_ctx: AsyncContext) -> Result<(), JobError> {
    Ok(())
}

fn _typed_requests() -> [asyncep::JobRequest; 2] {
    use asyncep::JobKind as _;
    assert_eq!(Handled::JOB, "handled");
    [
        asyncep::JobRequest::of::<Handled>(&Req { n: 1 }).param("id", "7"),
        asyncep::JobRequest::of::<HandledNoBody>(&asyncep::NoBody),
    ]
}

#[async_endpoint(job = "stateful", get = "/c")]
async fn stateful(_ctx: AsyncContext, State(_db): State<Db>) -> std::result::Result<Vec<u8>, std::io::Error> {
    Ok(vec![])
}

fn main() {}
