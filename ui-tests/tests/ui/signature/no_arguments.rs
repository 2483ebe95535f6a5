use asyncep::async_endpoint;

#[async_endpoint(job = "render", post = "/reports")]
async fn render() -> Result<(), String> {
    Ok(())
}

fn main() {}
