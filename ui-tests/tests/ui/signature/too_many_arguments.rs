use asyncep::{async_endpoint, AsyncContext, State};

#[async_endpoint(job = "render", post = "/reports")]
async fn render(_ctx: AsyncContext, _a: State<u8>, _b: State<u16>) -> Result<(), String> {
    Ok(())
}

fn main() {}
