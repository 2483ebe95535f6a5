use asyncep::{async_endpoint, AsyncContext};

#[async_endpoint(job = " ", post = "/reports")]
async fn render(_ctx: AsyncContext) -> Result<(), String> {
    Ok(())
}

fn main() {}
