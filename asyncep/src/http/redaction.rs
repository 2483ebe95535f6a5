//! What of a request is stored with its job: never a credential.
//!
//! A built-in rule that configuration can only add to marks a header or a
//! query parameter as sensitive: a list of names, and parts of names that
//! credentials carry (`token`, `secret`, `signature`, ...). Sensitive ones
//! are never stored, so no worker, store or backup ever holds them; a
//! `validate` function, which runs during the request, still sees them.

use std::sync::LazyLock;

use aho_corasick::AhoCorasick;

/// Headers never stored with a job, whatever the configuration.
pub const DEFAULT_REDACTED_HEADERS: &[&str] = &[
    "authorization",
    "cookie",
    "proxy-authorization",
    "set-cookie",
    "x-api-key",
    "api-key",
    "private-token",
    "x-auth-token",
    "x-amz-security-token",
    "x-csrf-token",
    "x-xsrf-token",
    "x-hub-signature",
    "x-hub-signature-256",
];

/// Parts of a header or query parameter name that mark it as sensitive:
/// `x-vendor-access-token` and `?client_secret=` are never stored either.
pub const SENSITIVE_NAME_PARTS: &[&str] = &[
    "auth",
    "token",
    "secret",
    "password",
    "passwd",
    "signature",
    "credential",
    "session",
    "cookie",
    "apikey",
    "api-key",
    "api_key",
    "private-key",
    "private_key",
];

/// Query parameters never stored with a job, besides those the name parts
/// mark.
pub const DEFAULT_REDACTED_QUERY: &[&str] = &["key", "sig"];

/// Headers about the HTTP exchange itself, not the job: never stored.
const EXCHANGE_HEADERS: &[&str] = &[
    "connection",
    "content-length",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// What of a request's headers and query a job keeps.
#[derive(Clone, Debug, Default)]
pub(crate) struct Redaction {
    /// More header names never stored (lower-case).
    pub(crate) headers: Vec<String>,
    /// More query parameter names never stored.
    pub(crate) query: Vec<String>,
    /// When set, only these headers are stored (still never a sensitive
    /// one).
    pub(crate) only: Option<Vec<String>>,
    /// Headers the built-in rule marks, stored all the same because the
    /// application said so by name.
    pub(crate) allowed_sensitive: Vec<String>,
}

/// Whether `name` (lower-case) holds one of [`SENSITIVE_NAME_PARTS`]: one
/// pass of an automaton built once, where a search per part cost 7 % of a
/// submit's instructions.
fn marked(name: &str) -> bool {
    static PARTS: LazyLock<Option<AhoCorasick>> =
        LazyLock::new(|| AhoCorasick::new(SENSITIVE_NAME_PARTS).ok());
    match &*PARTS {
        Some(parts) => parts.is_match(name),
        // The parts are fixed and small: building cannot fail; were it to,
        // the plain search gives the same answer.
        None => SENSITIVE_NAME_PARTS.iter().any(|part| name.contains(part)),
    }
}

impl Redaction {
    /// Whether the header `name` (lower-case) is stored.
    pub(crate) fn keeps_header(&self, name: &str) -> bool {
        if EXCHANGE_HEADERS.contains(&name) || self.headers.iter().any(|h| h == name) {
            return false;
        }
        if let Some(only) = &self.only {
            if !only.iter().any(|h| h == name) {
                return false;
            }
        }
        let sensitive = DEFAULT_REDACTED_HEADERS.contains(&name) || marked(name);
        !sensitive || self.allowed_sensitive.iter().any(|h| h == name)
    }

    /// Whether the query parameter `name` is stored.
    pub(crate) fn keeps_query_param(&self, name: &str) -> bool {
        let name = name.to_ascii_lowercase();
        !(DEFAULT_REDACTED_QUERY.contains(&name.as_str())
            || marked(&name)
            || self.query.contains(&name))
    }

    /// The query string to store: sensitive parameters taken out, the rest
    /// as sent (order and encoding kept).
    pub(crate) fn stored_query(&self, query: Option<&str>) -> Option<String> {
        let query = query?;
        let kept: Vec<&str> = query
            .split('&')
            .filter(|pair| {
                let name = pair.split('=').next().unwrap_or("");
                let name = form_urlencoded::parse(name.as_bytes())
                    .next()
                    .map(|(name, _)| name.into_owned())
                    .unwrap_or_default();
                self.keeps_query_param(&name)
            })
            .collect();
        (!kept.is_empty()).then(|| kept.join("&"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_never_stored_by_default() {
        let redaction = Redaction::default();
        for name in [
            "authorization",
            "cookie",
            "x-auth-token",
            "x-amz-security-token",
            "x-csrf-token",
            "private-token",
            "api-key",
            "x-hub-signature-256",
            "x-vendor-access-token",
            "x-client-secret",
            "connection",
        ] {
            assert!(!redaction.keeps_header(name), "{name}");
        }
        for name in ["x-trace", "accept-language", "user-agent", "x-request-id"] {
            assert!(redaction.keeps_header(name), "{name}");
        }
    }

    /// Before: `redacted_headers([...])` replaced the list, so configuring
    /// one more header stopped `authorization` from being redacted.
    #[test]
    fn configuration_adds_to_the_rule_and_never_drops_it() {
        let redaction = Redaction {
            headers: vec!["x-internal".into()],
            only: Some(vec!["authorization".into(), "x-tenant".into()]),
            ..Redaction::default()
        };
        assert!(!redaction.keeps_header("x-internal"));
        assert!(
            !redaction.keeps_header("authorization"),
            "an allowlist cannot store a credential"
        );
        assert!(redaction.keeps_header("x-tenant"));
        assert!(!redaction.keeps_header("x-trace"), "not on the allowlist");
        let explicit = Redaction {
            allowed_sensitive: vec!["x-session-id".into()],
            ..Redaction::default()
        };
        assert!(explicit.keeps_header("x-session-id"), "stored when named");
        assert!(!explicit.keeps_header("authorization"));
    }

    #[test]
    fn sensitive_query_parameters_are_taken_out() {
        let redaction = Redaction::default();
        assert_eq!(
            redaction.stored_query(Some(
                "page=2&access_token=abc&sort=name&client_secret=x&key=k"
            )),
            Some("page=2&sort=name".to_owned())
        );
        assert_eq!(redaction.stored_query(Some("access%5Ftoken=abc")), None);
        assert_eq!(redaction.stored_query(None), None);
        let more = Redaction {
            query: vec!["tenant".into()],
            ..Redaction::default()
        };
        assert_eq!(
            more.stored_query(Some("tenant=a&x=1")),
            Some("x=1".to_owned())
        );
    }
}
