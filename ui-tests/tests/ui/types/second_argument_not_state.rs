use asyncep::{async_endpoint, AsyncContext};

#[async_endpoint(job = "render", post = "/reports")]
async fn render(_ctx: AsyncContext, _pool: String) -> Result<(), String> {
    Ok(())
}

fn main() {}
