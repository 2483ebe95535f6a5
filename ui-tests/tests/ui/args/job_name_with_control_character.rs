use asyncep::{async_endpoint, AsyncContext};

#[async_endpoint(job = "render\0report", post = "/reports")]
async fn render(_ctx: AsyncContext) -> Result<(), String> {
    Ok(())
}

fn main() {}
