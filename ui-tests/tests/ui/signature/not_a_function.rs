use asyncep::async_endpoint;

#[async_endpoint(job = "render", post = "/reports")]
struct Render;

fn main() {}
