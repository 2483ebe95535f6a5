//! The report jobs of the split deployment: shared by the API process
//! (`split_api`), which accepts them, and the worker processes
//! (`split_worker`), which run them.

use std::time::Duration;

use asyncep::{AsyncContext, ConfigError, JobError, RuntimeBuilder, State, async_endpoint};
use serde::{Deserialize, Serialize};

/// What a client asks for.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct ReportRequest {
    /// The report's title.
    pub title: String,
}

/// What a worker produces.
#[derive(Debug, Serialize)]
pub struct Report {
    /// The report's id, from the route.
    pub id: String,
    /// The title asked for.
    pub title: String,
    /// Which worker process rendered it.
    pub rendered_by: String,
}

/// Facts about this process, given to handlers as state.
#[derive(Clone, Debug)]
pub struct Process {
    /// A name for this process: host and process id.
    pub name: String,
}

/// Renders a report in about a second.
#[async_endpoint(
    job = "render-report",
    post = "/reports/<id>",
    retries = 3,
    timeout = "1m"
)]
async fn render(
    ctx: AsyncContext<ReportRequest>,
    State(process): State<Process>,
) -> Result<Report, JobError> {
    tokio::time::sleep(Duration::from_secs(1)).await;
    Ok(Report {
        id: ctx.route_params["id"].clone(),
        title: ctx.request.title,
        rendered_by: process.name,
    })
}

/// The runtime both processes build: the `ASYNCEP_*` variables (the store:
/// `ASYNCEP_STORE_URL=postgres://...`, `redis://...` or `sqlite://...`), and
/// this module's state. Calling it is
/// also what links this module, and so its endpoints, into each binary.
pub fn runtime_builder() -> Result<RuntimeBuilder, ConfigError> {
    let name = format!("pid {}", std::process::id());
    Ok(asyncep::Runtime::builder()
        .with_env()?
        .state(Process { name }))
}
