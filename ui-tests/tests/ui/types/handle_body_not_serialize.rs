use asyncep::{async_endpoint, AsyncContext};

#[derive(serde::Deserialize)]
struct Request {
    title: String,
}

// A handle submits the body from Rust code, so the body must serialize.
#[async_endpoint(job = "render", post = "/reports", handle = Render)]
async fn render(ctx: AsyncContext<Request>) -> Result<String, String> {
    Ok(ctx.request.title)
}

fn main() {}
