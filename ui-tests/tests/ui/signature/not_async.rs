use asyncep::{async_endpoint, AsyncContext};

#[async_endpoint(job = "render", post = "/reports")]
fn render(_ctx: AsyncContext) -> Result<(), String> {
    Ok(())
}

fn main() {}
