//! What the `#[async_endpoint]` attribute registers: one [`Endpoint`] record
//! per annotated function, and the traits its generated code leans on.

mod body;
mod docs;
mod kind;
mod output;
mod record;
mod run;
mod submission;

pub(crate) use body::body_text;
pub use body::{BodyError, JobBody};
pub use docs::{BodySchema, DocumentedBody};
pub use kind::JobKind;
pub use output::HandlerOutput;
pub use record::{Endpoint, Method, RunFn, ValidateFn};
pub use run::Run;
pub use submission::Submission;
