use asyncep::{async_endpoint, AsyncContext};

#[async_endpoint(job = "render", post = "/reports", handle = "Render")]
async fn render(_ctx: AsyncContext) -> Result<(), String> {
    Ok(())
}

fn main() {}
