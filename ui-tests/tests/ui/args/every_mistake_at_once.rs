use asyncep::{async_endpoint, AsyncContext};

#[async_endpoint(post = "/reports/<id", backoff = "soon")]
fn render(_ctx: AsyncContext) -> String {
    String::new()
}

fn main() {}
