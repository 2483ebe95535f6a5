//! The API's documentation, served beside it: `/openapi.json` and a
//! browsable reference at `/docs` (Scalar). Shared by the `openapi` example
//! and its test, so the test checks what the example serves.

use asyncep::Runtime;
use axum::Router;
use axum::routing::get;
use utoipa::openapi::{InfoBuilder, OpenApi, OpenApiBuilder};
use utoipa_scalar::{Scalar, Servable};

/// The application's document: its own title, with asyncep's routes merged
/// in. An application with routes of its own merges those too (from
/// `#[derive(utoipa::OpenApi)]` or `utoipa-axum`).
pub fn document(runtime: &Runtime) -> OpenApi {
    let mut document = OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title("Reports API")
                .version("1.0.0")
                .description(Some("Renders reports asynchronously.")),
        )
        .build();
    document.merge(runtime.openapi());
    document
}

/// The runtime's routes, `/openapi.json` and `/docs`.
pub fn app(runtime: &Runtime) -> Router {
    let document = document(runtime);
    let json = document.clone();
    runtime
        .mount(Router::new())
        .route(
            "/openapi.json",
            get(move || async move { axum::Json(json) }),
        )
        .merge(Scalar::with_url("/docs", document))
}
