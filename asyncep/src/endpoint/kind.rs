//! A typed name for an endpoint's job, for submitting it from Rust code.

use serde::Serialize;

use super::JobBody;

/// An endpoint's job as a type: its name and its body type, so a
/// [`JobRequest`](crate::JobRequest) made from it is checked by the
/// compiler. `#[async_endpoint(..., handle = RenderReport)]` generates a
/// unit struct that implements it:
///
/// ```standalone_crate
/// use asyncep::{async_endpoint, AsyncContext, JobKind, JobRequest};
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Serialize, Deserialize)]
/// # #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
/// struct ReportRequest { title: String }
///
/// #[async_endpoint(job = "render-report", post = "/reports/<id>", handle = RenderReport)]
/// async fn render(ctx: AsyncContext<ReportRequest>) -> Result<String, String> {
///     Ok(ctx.request.title)
/// }
///
/// assert_eq!(RenderReport::JOB, "render-report");
/// let request = JobRequest::of::<RenderReport>(&ReportRequest { title: "Q3".into() })
///     .param("id", "42");
/// # drop(request);
/// ```
pub trait JobKind {
    /// The job's name (`job = "..."`).
    const JOB: &'static str;
    /// The body its endpoint decodes (and a request made from Rust code
    /// serializes).
    type Body: JobBody + Serialize;
}
