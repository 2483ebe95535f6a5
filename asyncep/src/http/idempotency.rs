//! The two idempotency headers: `X-Async-Request-Id` and `Idempotency-Key`.

use axum::http::HeaderMap;

use super::Problem;
use crate::job::JobId;

/// The client-chosen job id header.
pub(crate) const REQUEST_ID: &str = "x-async-request-id";
/// The opaque idempotency key header.
pub(crate) const IDEMPOTENCY_KEY: &str = "idempotency-key";

/// What the client sent to make its request idempotent.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct IdempotencyHeaders {
    pub(crate) request_id: Option<JobId>,
    pub(crate) key: Option<String>,
}

impl IdempotencyHeaders {
    pub(crate) fn from_headers(headers: &HeaderMap) -> Result<Self, Problem> {
        let request_id = match single(headers, REQUEST_ID)? {
            Some(text) => Some(text.parse::<JobId>().map_err(|_| {
                Problem::invalid_idempotency_key(format!(
                    "`X-Async-Request-Id` must be a UUID, found `{text}`"
                ))
            })?),
            None => None,
        };
        let key = match single(headers, IDEMPOTENCY_KEY)? {
            Some(text) => Some(check_key(text)?),
            None => None,
        };
        Ok(Self { request_id, key })
    }

    /// Whether the client asked for idempotency at all.
    pub(crate) fn is_requested(&self) -> bool {
        self.request_id.is_some() || self.key.is_some()
    }
}

fn single<'a>(headers: &'a HeaderMap, name: &'static str) -> Result<Option<&'a str>, Problem> {
    let mut values = headers.get_all(name).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(Problem::invalid_idempotency_key(format!(
            "send `{name}` once, not several times"
        )));
    }
    let text = value
        .to_str()
        .map_err(|_| Problem::invalid_idempotency_key(format!("`{name}` must be visible ASCII")))?;
    Ok(Some(text.trim()))
}

/// 1 to 255 visible ASCII characters; a structured-field string (`"abc"`,
/// as the IETF draft writes it) is unquoted first.
fn check_key(text: &str) -> Result<String, Problem> {
    let key = text
        .strip_prefix('"')
        .and_then(|rest| rest.strip_suffix('"'))
        .unwrap_or(text);
    if key.is_empty() || key.len() > 255 {
        return Err(Problem::invalid_idempotency_key(format!(
            "`Idempotency-Key` must be 1 to 255 characters long, found {}",
            key.len()
        )));
    }
    if let Some(bad) = key.chars().find(|c| !c.is_ascii_graphic()) {
        return Err(Problem::invalid_idempotency_key(format!(
            "`Idempotency-Key` must be visible ASCII, found {bad:?}"
        )));
    }
    Ok(key.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, value.parse().unwrap());
        }
        map
    }

    #[test]
    fn reads_both_headers() {
        let id = JobId::new();
        let found = IdempotencyHeaders::from_headers(&headers(&[
            (REQUEST_ID, &id.to_string()),
            (IDEMPOTENCY_KEY, "order-42"),
        ]))
        .unwrap();
        assert_eq!(found.request_id, Some(id));
        assert_eq!(found.key.as_deref(), Some("order-42"));
        assert!(found.is_requested());
        assert!(
            !IdempotencyHeaders::from_headers(&HeaderMap::new())
                .unwrap()
                .is_requested()
        );
    }

    #[test]
    fn unquotes_structured_field_strings() {
        let found =
            IdempotencyHeaders::from_headers(&headers(&[(IDEMPOTENCY_KEY, "\"abc\"")])).unwrap();
        assert_eq!(found.key.as_deref(), Some("abc"));
    }

    #[test]
    fn refuses_malformed_values() {
        for bad in [
            headers(&[(REQUEST_ID, "12")]),
            headers(&[(IDEMPOTENCY_KEY, "has space")]),
            headers(&[(IDEMPOTENCY_KEY, "\"\"")]),
            headers(&[(IDEMPOTENCY_KEY, &"k".repeat(256))]),
            headers(&[(IDEMPOTENCY_KEY, "a"), (IDEMPOTENCY_KEY, "b")]),
        ] {
            let problem = IdempotencyHeaders::from_headers(&bad).unwrap_err();
            assert_eq!(problem.status(), 400, "{bad:?}");
        }
    }
}
