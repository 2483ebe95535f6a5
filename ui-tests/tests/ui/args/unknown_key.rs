use asyncep::{async_endpoint, AsyncContext};

#[async_endpoint(job = "render", post = "/reports", retry = 3)]
async fn render(_ctx: AsyncContext) -> Result<(), String> {
    Ok(())
}

fn main() {}
