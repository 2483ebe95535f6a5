use asyncep::{async_endpoint, AsyncContext};

#[derive(serde::Deserialize)]
struct ReportRequest {
    title: String,
}

#[async_endpoint(job = "render", post = "/reports")]
async fn render(ctx: AsyncContext<ReportRequest>) -> Result<String, String> {
    Ok(ctx.request.title)
}

fn main() {}
