use asyncep::{async_endpoint, AsyncContext};

struct Report;

#[async_endpoint(job = "render", post = "/reports")]
async fn render(_ctx: AsyncContext) -> Result<Report, String> {
    Ok(Report)
}

fn main() {}
