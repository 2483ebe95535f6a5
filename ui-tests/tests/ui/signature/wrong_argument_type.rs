use asyncep::async_endpoint;

#[async_endpoint(job = "render", post = "/reports")]
async fn render(body: String) -> Result<(), String> {
    let _ = body;
    Ok(())
}

fn main() {}
