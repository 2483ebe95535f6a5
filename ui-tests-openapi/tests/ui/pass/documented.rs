use asyncep::{async_endpoint, AsyncContext};

/// What a client asks for.
#[derive(serde::Deserialize, utoipa::ToSchema)]
struct ReportRequest {
    title: String,
}

/// Renders a report.
#[async_endpoint(job = "render", post = "/reports/{id}")]
async fn render(ctx: AsyncContext<ReportRequest>) -> Result<String, String> {
    Ok(ctx.request.title)
}

/// No body: nothing to describe.
#[async_endpoint(job = "ping", get = "/ping")]
async fn ping(_ctx: AsyncContext) -> Result<(), String> {
    Ok(())
}

fn main() {
    let runtime = asyncep::Runtime::builder().build().unwrap();
    let document = runtime.openapi();
    let render = document.paths.get_path_item("/reports/{id}").unwrap();
    assert_eq!(
        render.post.as_ref().unwrap().summary.as_deref(),
        Some("Renders a report.")
    );
}
