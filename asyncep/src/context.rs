//! What a handler receives: [`AsyncContext`], and [`State`] for shared
//! application state.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use crate::caller::Caller;
use crate::job::JobId;
use crate::progress::ProgressSink;

/// The body type of an endpoint that takes no body: `AsyncContext` alone
/// means `AsyncContext<NoBody>`. Such an endpoint never reads or parses the
/// request body. (It serializes as `null`, so a job without a body can be
/// named by a [`JobKind`](crate::JobKind).)
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct NoBody;

/// What a job's handler runs with: the request it was submitted with, and
/// facts about the run.
///
/// ```standalone_crate
/// use asyncep::{async_endpoint, AsyncContext, JobError};
/// # #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
/// # #[derive(serde::Deserialize)] struct Resize { width: u32 }
///
/// #[async_endpoint(job = "resize-image", post = "/images/<id>/resize")]
/// async fn resize(ctx: AsyncContext<Resize>) -> Result<String, JobError> {
///     let id = &ctx.route_params["id"];
///     Ok(format!("image {id} resized to {} px (attempt {})", ctx.request.width, ctx.attempt))
/// }
/// ```
#[non_exhaustive]
pub struct AsyncContext<T = NoBody> {
    /// The JSON body, decoded (`NoBody` for endpoints without one).
    pub request: T,
    /// Request headers by lower-case name. Sensitive headers
    /// (`authorization`, `cookie`, ...) are not stored, so a worker never
    /// sees them; a `validate` function, which runs during the request, does.
    pub headers: HashMap<String, Vec<String>>,
    /// Route parameters by name (`id` for `/reports/<id>`).
    pub route_params: HashMap<String, String>,
    /// Query parameters by name, every value in order.
    pub query_params: HashMap<String, Vec<String>>,
    /// The job's id.
    pub job_id: JobId,
    /// The endpoint's job name.
    pub job_name: &'static str,
    /// The number of this run, 1-based (0 in a `validate` function, before
    /// the job exists).
    pub attempt: u32,
    /// Fires when the attempt times out, the worker shuts down, the worker
    /// lost the job's lease to another, or a client canceled the job
    /// (`DELETE /jobs/{id}`): a handler that can stop early should watch it.
    pub cancellation: CancellationToken,
    fencing_token: u64,
    caller: Option<Caller>,
    states: States,
    progress: ProgressSink,
}

impl<T> AsyncContext<T> {
    /// Builds a context; asyncep does this for every run.
    #[doc(hidden)]
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        request: T,
        headers: HashMap<String, Vec<String>>,
        route_params: HashMap<String, String>,
        query_params: HashMap<String, Vec<String>>,
        job_id: JobId,
        job_name: &'static str,
        attempt: u32,
        fencing_token: u64,
        caller: Option<Caller>,
        cancellation: CancellationToken,
        states: States,
    ) -> Self {
        Self {
            request,
            headers,
            route_params,
            query_params,
            job_id,
            job_name,
            attempt,
            cancellation,
            fencing_token,
            caller,
            states,
            progress: ProgressSink::default(),
        }
    }

    pub(crate) fn with_progress(mut self, progress: ProgressSink) -> Self {
        self.progress = progress;
        self
    }

    /// Reports the job's progress: any value that serializes to JSON, shown
    /// as `progress` in the job's document and its event stream. Only the
    /// latest value is kept, and writes to the store are spaced out, so a
    /// handler may report as often as it likes. A value that does not
    /// serialize, or is larger than [`PROGRESS_LIMIT`](crate::PROGRESS_LIMIT)
    /// bytes of JSON, is dropped with a warning. In a `validate` function it
    /// goes nowhere.
    ///
    /// ```standalone_crate
    /// use asyncep::{async_endpoint, AsyncContext};
    ///
    /// #[async_endpoint(job = "doc-import", post = "/doc-imports")]
    /// async fn import(ctx: AsyncContext) -> Result<u32, String> {
    ///     for row in 1..=100 {
    ///         ctx.progress(&serde_json::json!({ "rows": row, "of": 100 }));
    ///     }
    ///     Ok(100)
    /// }
    /// ```
    pub fn progress<P: serde::Serialize + ?Sized>(&self, value: &P) {
        match serde_json::value::to_raw_value(value) {
            Ok(json) if json.get().len() > crate::PROGRESS_LIMIT => tracing::warn!(
                job.id = %self.job_id,
                bytes = json.get().len(),
                "dropped a progress value larger than the limit"
            ),
            Ok(json) => self.progress.report(json.into()),
            Err(error) => tracing::warn!(
                job.id = %self.job_id,
                %error,
                "dropped a progress value that does not serialize"
            ),
        }
    }

    /// Who submitted the job (see [`Caller`]), so the handler can act on
    /// the caller's behalf without the credentials ever being stored.
    pub fn caller(&self) -> Option<&Caller> {
        self.caller.as_ref()
    }

    /// The fencing token of this run's lease: greater than the token of
    /// every earlier run of any job in the store. Pass it to the systems the
    /// handler writes to and have them refuse a write with a smaller token
    /// than the last one they accepted: then a worker that lost its lease
    /// (paused, partitioned) can never overwrite the work of the next one.
    /// `0` in a `validate` function.
    ///
    /// ```standalone_crate
    /// use asyncep::{async_endpoint, AsyncContext};
    ///
    /// #[async_endpoint(job = "doc-fenced", post = "/doc-fenced/<id>")]
    /// async fn fenced(ctx: AsyncContext) -> Result<String, String> {
    ///     // e.g. UPDATE reports SET body = $1, token = $2 WHERE id = $3 AND token < $2
    ///     Ok(format!("write {} under token {}", ctx.route_params["id"], ctx.fencing_token()))
    /// }
    /// ```
    pub fn fencing_token(&self) -> u64 {
        self.fencing_token
    }

    /// The first value of a header, by lower-case name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name)?.first().map(String::as_str)
    }

    /// The first value of a query parameter.
    pub fn query(&self, name: &str) -> Option<&str> {
        self.query_params.get(name)?.first().map(String::as_str)
    }

    /// Application state added with
    /// [`RuntimeBuilder::state`](crate::RuntimeBuilder::state), if any of
    /// type `S` was. Handlers get a checked form by taking a [`State<S>`]
    /// argument.
    pub fn state<S: Send + Sync + 'static>(&self) -> Option<&S> {
        self.states.get::<S>()
    }
}

impl<T: fmt::Debug> fmt::Debug for AsyncContext<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsyncContext")
            .field("request", &self.request)
            .field("headers", &self.headers)
            .field("route_params", &self.route_params)
            .field("query_params", &self.query_params)
            .field("job_id", &self.job_id)
            .field("job_name", &self.job_name)
            .field("attempt", &self.attempt)
            .field("caller", &self.caller)
            .finish_non_exhaustive()
    }
}

/// Application state for handlers: a database pool, an HTTP client.
///
/// Add it once to the runtime with
/// [`RuntimeBuilder::state`](crate::RuntimeBuilder::state) (in an API
/// process, a worker-only process, or both) and take it as the handler's
/// second argument. A handler whose state was not added makes the runtime
/// refuse to build, naming the endpoint and the type.
///
/// ```standalone_crate
/// use asyncep::{async_endpoint, AsyncContext, Runtime, State};
///
/// #[derive(Clone)]
/// struct Mailer { from: String }
///
/// #[async_endpoint(job = "send-welcome", post = "/welcome/<user>")]
/// async fn send_welcome(ctx: AsyncContext, State(mailer): State<Mailer>) -> Result<String, String> {
///     Ok(format!("mail from {} to {}", mailer.from, ctx.route_params["user"]))
/// }
///
/// let runtime = Runtime::builder()
///     .state(Mailer { from: "hello@example.com".into() })
///     .build()
///     .unwrap();
/// # drop(runtime);
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct State<S>(pub S);

impl<S> Deref for State<S> {
    type Target = S;

    fn deref(&self) -> &S {
        &self.0
    }
}

/// The application states of a runtime, by type.
#[derive(Clone, Default)]
pub struct States(Arc<HashMap<TypeId, Arc<dyn Any + Send + Sync>>>);

impl States {
    pub(crate) fn insert<S: Send + Sync + 'static>(&mut self, state: S) {
        Arc::make_mut(&mut self.0).insert(TypeId::of::<S>(), Arc::new(state));
    }

    pub(crate) fn contains(&self, type_id: TypeId) -> bool {
        self.0.contains_key(&type_id)
    }

    /// The state of type `S`, if added.
    pub fn get<S: Send + Sync + 'static>(&self) -> Option<&S> {
        self.0.get(&TypeId::of::<S>())?.downcast_ref()
    }
}

impl fmt::Debug for States {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("States")
            .field("len", &self.0.len())
            .finish()
    }
}

/// A state a handler needs, as the registry checks it at build time.
#[derive(Clone, Copy, Debug)]
pub struct StateRequirement {
    /// The state's type.
    pub type_id: TypeId,
    /// Its name, for the error message.
    pub type_name: &'static str,
}

/// An argument a handler takes after its context: [`State<S>`].
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be an argument of an async endpoint",
    label = "not `State<_>`",
    note = "an async endpoint takes `AsyncContext<T>`, then optionally `State<S>` with `S: Clone + Send + Sync + 'static`"
)]
pub trait FromStates: Sized {
    /// Takes the argument from the runtime's states.
    fn from_states(states: &States) -> Option<Self>;

    /// What [`from_states`](Self::from_states) needs, if anything.
    fn requirement() -> Option<StateRequirement>;
}

/// The "second argument" of a handler that takes none.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoExtra;

#[diagnostic::do_not_recommend]
impl FromStates for NoExtra {
    fn from_states(_: &States) -> Option<Self> {
        Some(NoExtra)
    }

    fn requirement() -> Option<StateRequirement> {
        None
    }
}

impl<S: Clone + Send + Sync + 'static> FromStates for State<S> {
    fn from_states(states: &States) -> Option<Self> {
        states.get::<S>().cloned().map(State)
    }

    fn requirement() -> Option<StateRequirement> {
        Some(StateRequirement {
            type_id: TypeId::of::<S>(),
            type_name: std::any::type_name::<S>(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_are_found_by_type() {
        let mut states = States::default();
        states.insert(7_u32);
        assert_eq!(states.get::<u32>(), Some(&7));
        assert!(states.get::<u64>().is_none());
        let State(n) = State::<u32>::from_states(&states).unwrap();
        assert_eq!(n, 7);
        assert!(states.contains(State::<u32>::requirement().unwrap().type_id));
        assert!(NoExtra::requirement().is_none());
    }
}
