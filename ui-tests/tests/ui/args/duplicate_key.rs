use asyncep::{async_endpoint, AsyncContext};

#[async_endpoint(job = "render", post = "/reports", retries = 1, retries = 2)]
async fn render(_ctx: AsyncContext) -> Result<(), String> {
    Ok(())
}

fn main() {}
