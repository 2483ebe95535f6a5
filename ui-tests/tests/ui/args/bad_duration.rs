use asyncep::{async_endpoint, AsyncContext};

#[async_endpoint(job = "render", post = "/reports", timeout = "30 seconds")]
async fn render(_ctx: AsyncContext) -> Result<(), String> {
    Ok(())
}

fn main() {}
