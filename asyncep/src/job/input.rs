use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// What a job was submitted with, as the store keeps it for the worker.
///
/// It is compact on purpose (pairs, not maps; the raw query string): a store
/// holds one per job, and the maps of [`AsyncContext`](crate::AsyncContext)
/// are built only when the job runs.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct JobInput {
    /// The JSON body as it was sent: one JSON value, already checked
    /// against the endpoint's body type. `None` for endpoints without a body.
    pub body: Option<Box<str>>,
    /// Request headers with lower-case names, sensitive ones left out.
    pub headers: Vec<(String, String)>,
    /// Route parameters by name.
    pub route_params: Vec<(String, String)>,
    /// The raw query string, without the `?`.
    pub query: Option<String>,
    /// The W3C trace context of the request that submitted the job, when
    /// one was captured (feature `opentelemetry`): each attempt's span
    /// continues that trace. Not part of the fingerprint. Boxed: most jobs
    /// have none, and a store holds an input per job.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace: Option<Box<TraceContext>>,
}

/// A W3C trace context (`traceparent`, and `tracestate` if any), as stored
/// with a job.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TraceContext {
    /// The `traceparent` header value.
    pub traceparent: String,
    /// The `tracestate` header value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tracestate: Option<String>,
}

impl JobInput {
    /// About how many bytes this input takes in a store: its texts, and a
    /// few words per header and parameter.
    pub fn stored_size(&self) -> usize {
        const PER_PAIR: usize = 48;
        let pairs = |pairs: &[(String, String)]| -> usize {
            pairs
                .iter()
                .map(|(n, v)| n.len() + v.len() + PER_PAIR)
                .sum()
        };
        self.body.as_deref().map_or(0, str::len)
            + pairs(&self.headers)
            + pairs(&self.route_params)
            + self.query.as_deref().map_or(0, str::len)
            + self.trace.as_ref().map_or(0, |trace| {
                trace.traceparent.len() + trace.tracestate.as_deref().map_or(0, str::len)
            })
    }
}

/// A digest of what makes two submissions "the same request": the job name,
/// the route parameters, the query and the body. An idempotency key sent
/// again with a different fingerprint is a conflict (`422`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct Fingerprint(pub [u8; 16]);

impl Fingerprint {
    /// The fingerprint of a submission to the job `name`.
    pub fn of(name: &str, input: &JobInput) -> Self {
        let mut hash = Sha256::new();
        let mut field = |bytes: &[u8]| {
            hash.update((bytes.len() as u64).to_le_bytes());
            hash.update(bytes);
        };
        field(name.as_bytes());
        for (key, value) in &input.route_params {
            field(key.as_bytes());
            field(value.as_bytes());
        }
        field(input.query.as_deref().unwrap_or("").as_bytes());
        field(input.body.as_deref().unwrap_or("").as_bytes());
        let digest = hash.finalize();
        let mut bytes = [0; 16];
        bytes.copy_from_slice(&digest[..16]);
        Self(bytes)
    }

    /// Lower-case hex, as stores keep it.
    pub fn to_hex(self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(body: &str, id: &str) -> JobInput {
        JobInput {
            body: Some(body.into()),
            route_params: vec![("id".into(), id.into())],
            ..JobInput::default()
        }
    }

    #[test]
    fn same_request_same_fingerprint() {
        assert_eq!(
            Fingerprint::of("a", &input("{}", "1")),
            Fingerprint::of("a", &input("{}", "1"))
        );
    }

    #[test]
    fn name_route_and_body_all_count() {
        let base = Fingerprint::of("a", &input("{}", "1"));
        assert_ne!(base, Fingerprint::of("b", &input("{}", "1")));
        assert_ne!(base, Fingerprint::of("a", &input("{}", "2")));
        assert_ne!(base, Fingerprint::of("a", &input("[]", "1")));
    }

    #[test]
    fn headers_do_not_count() {
        let mut other = input("{}", "1");
        other.headers.push(("user-agent".into(), "curl".into()));
        assert_eq!(
            Fingerprint::of("a", &input("{}", "1")),
            Fingerprint::of("a", &other)
        );
    }
}
