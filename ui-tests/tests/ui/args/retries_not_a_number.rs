use asyncep::{async_endpoint, AsyncContext};

#[async_endpoint(job = "render", post = "/reports", retries = "three")]
async fn render(_ctx: AsyncContext) -> Result<(), String> {
    Ok(())
}

fn main() {}
