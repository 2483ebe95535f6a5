use std::collections::HashMap;

use axum::http::HeaderMap;
use tokio_util::sync::CancellationToken;

use super::{BodyError, JobBody};
use crate::caller::Caller;
use crate::context::{AsyncContext, States};
use crate::job::JobId;
use crate::problem::Problem;

/// A request being accepted, before its job is stored: what a `validate`
/// function sees.
#[derive(Debug)]
pub struct Submission {
    pub(crate) body: Option<Box<str>>,
    pub(crate) headers: HeaderMap,
    pub(crate) route_params: Vec<(String, String)>,
    pub(crate) query: Option<String>,
    pub(crate) job_id: JobId,
    pub(crate) job_name: &'static str,
    pub(crate) caller: Option<Caller>,
    pub(crate) states: States,
}

impl Submission {
    /// Checks that the body decodes to `T`.
    pub fn check<T: JobBody>(&self) -> Result<(), Problem> {
        T::decode(self.body.as_deref())
            .map(drop)
            .map_err(Problem::from)
    }

    /// The context a `validate` function gets: every header (sensitive ones
    /// too, for authorization checks), and `attempt` 0.
    pub fn context<T: JobBody>(&self) -> Result<AsyncContext<T>, Problem> {
        let request = T::decode(self.body.as_deref()).map_err(Problem::from)?;
        let headers = self.headers.iter().map(|(name, value)| {
            (
                name.as_str().to_owned(),
                String::from_utf8_lossy(value.as_bytes()).into_owned(),
            )
        });
        Ok(AsyncContext::new(
            request,
            header_map(headers),
            self.route_params.iter().cloned().collect(),
            query_map(self.query.as_deref()),
            self.job_id,
            self.job_name,
            0,
            0,
            self.caller.clone(),
            CancellationToken::new(),
            self.states.clone(),
        ))
    }
}

impl From<BodyError> for Problem {
    fn from(error: BodyError) -> Self {
        match error {
            BodyError::Missing | BodyError::Syntax(_) => Problem::invalid_body(error.to_string()),
            BodyError::Shape(_) => Problem::unprocessable_body(error.to_string()),
        }
    }
}

/// Groups header pairs by name, every value in order.
pub(crate) fn header_map(
    pairs: impl IntoIterator<Item = (String, String)>,
) -> HashMap<String, Vec<String>> {
    let mut map: HashMap<String, Vec<String>> = HashMap::new();
    for (name, value) in pairs {
        map.entry(name).or_default().push(value);
    }
    map
}

/// Parses a query string into every value of every name.
pub(crate) fn query_map(query: Option<&str>) -> HashMap<String, Vec<String>> {
    let mut map: HashMap<String, Vec<String>> = HashMap::new();
    for (name, value) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        map.entry(name.into_owned())
            .or_default()
            .push(value.into_owned());
    }
    map
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_keeps_every_value_in_order() {
        let map = query_map(Some("tag=a&tag=b&q=hello%20world"));
        assert_eq!(map["tag"], ["a", "b"]);
        assert_eq!(map["q"], ["hello world"]);
        assert!(query_map(None).is_empty());
    }
}
