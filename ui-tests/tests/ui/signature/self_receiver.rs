use asyncep::{async_endpoint, AsyncContext};

struct Reports;

impl Reports {
    #[async_endpoint(job = "render", post = "/reports")]
    async fn render(&self, _ctx: AsyncContext) -> Result<(), String> {
        Ok(())
    }
}

fn main() {}
