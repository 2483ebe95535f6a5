//! Where a job can be read: its `Location`, right when the router is
//! nested, and absolute when the operator says where the API is reached
//! (long-running-operation clients such as Azure's need absolute URLs).

use axum::extract::OriginalUri;
use axum::http::header;
use axum::http::request::Parts;

use crate::job::JobId;

/// Where clients reach the API, for absolute links.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) enum Origin {
    /// Links are paths (`/jobs/{id}`).
    #[default]
    Relative,
    /// A configured public URL: scheme, host, port and any path prefix,
    /// without a trailing `/` (`https://api.example.com/v1`).
    Fixed(String),
    /// The request's own `Forwarded` (or `X-Forwarded-Host` and
    /// `X-Forwarded-Proto`) or `Host`: only behind a proxy that sets them.
    FromRequest,
}

impl Origin {
    /// The origin a public URL names, or why it cannot be one.
    pub(crate) fn fixed(url: &str) -> Result<Self, String> {
        let parsed = url::Url::parse(url).map_err(|error| error.to_string())?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err("the scheme must be http or https".into());
        }
        if parsed.host_str().is_none() {
            return Err("it names no host".into());
        }
        if parsed.query().is_some() || parsed.fragment().is_some() {
            return Err("it may not have a query or a fragment".into());
        }
        if !parsed.username().is_empty() || parsed.password().is_some() {
            return Err("it may not hold credentials".into());
        }
        Ok(Self::Fixed(
            parsed.as_str().trim_end_matches('/').to_owned(),
        ))
    }

    /// What links in the answer to this request start with.
    pub(super) fn base(&self, parts: &Parts) -> LinkBase {
        LinkBase(match self {
            Self::Relative => String::new(),
            Self::Fixed(base) => base.clone(),
            Self::FromRequest => request_origin(parts).unwrap_or_default(),
        })
    }

    /// `path` (from the server's root) as a client should follow it.
    pub(super) fn link(&self, parts: &Parts, path: &str) -> String {
        self.base(parts).link(path)
    }
}

/// The start of the links of one answer: empty for paths.
#[derive(Clone, Debug)]
pub(super) struct LinkBase(String);

impl LinkBase {
    /// `path` (from the server's root) as a client should follow it.
    pub(super) fn link(&self, path: &str) -> String {
        self.link_with(path, "")
    }

    /// `path` and then `suffix`, as a client should follow them: one
    /// allocation (a submit writes two links).
    pub(super) fn link_with(&self, path: &str, suffix: &str) -> String {
        let mut link = String::with_capacity(self.0.len() + path.len() + suffix.len());
        link.push_str(&self.0);
        link.push_str(path);
        link.push_str(suffix);
        link
    }
}

/// `scheme://host` from the first `Forwarded` element, else from
/// `X-Forwarded-Proto` and `X-Forwarded-Host`, else `http://` and `Host`;
/// `None` if what they say is not a host.
fn request_origin(parts: &Parts) -> Option<String> {
    let text = |name: &str| {
        parts
            .headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .map(str::trim)
    };
    let first = |value: &str| value.split(',').next().unwrap_or("").trim().to_owned();
    let forwarded = text("forwarded").map(|value| {
        let element = first(value);
        let pair = |key: &str| {
            element.split(';').find_map(|pair| {
                let (name, value) = pair.split_once('=')?;
                name.trim()
                    .eq_ignore_ascii_case(key)
                    .then(|| value.trim().trim_matches('"').to_owned())
            })
        };
        (pair("proto"), pair("host"))
    });
    let (proto, host) = forwarded.unwrap_or((None, None));
    let proto = proto
        .or_else(|| text("x-forwarded-proto").map(first))
        .unwrap_or_else(|| "http".to_owned());
    let host = host
        .or_else(|| text("x-forwarded-host").map(first))
        .or_else(|| text(header::HOST.as_str()).map(str::to_owned))?;
    // Whatever the headers say must read back as just a scheme and a host.
    let origin = url::Url::parse(&format!("{proto}://{host}")).ok()?;
    let plain = matches!(origin.scheme(), "http" | "https")
        && origin.path() == "/"
        && origin.query().is_none()
        && origin.username().is_empty();
    plain.then(|| origin.origin().ascii_serialization())
}

/// The path of the job's status route as the client must ask for it: the
/// job prefix, after whatever prefix the application nested the router
/// under (`Router::nest("/api", ...)`), which axum strips from the URI the
/// handler sees but keeps in [`OriginalUri`].
pub(super) fn job_location(parts: &Parts, job_prefix: &str, id: JobId) -> String {
    let nested = parts
        .extensions
        .get::<OriginalUri>()
        .and_then(|original| original.path().strip_suffix(parts.uri.path()))
        .unwrap_or("")
        .trim_end_matches('/');
    format!("{nested}{job_prefix}/{id}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::Request;

    fn parts(original: &str, seen: &str) -> Parts {
        let (mut parts, ()) = Request::builder().uri(seen).body(()).unwrap().into_parts();
        parts
            .extensions
            .insert(OriginalUri(original.parse().unwrap()));
        parts
    }

    fn with_headers(headers: &[(&str, &str)]) -> Parts {
        let mut request = Request::builder().uri("/reports/7");
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.body(()).unwrap().into_parts().0
    }

    #[test]
    fn links_are_made_absolute_as_configured() {
        let parts = with_headers(&[("host", "internal:8080")]);
        assert_eq!(Origin::Relative.link(&parts, "/jobs/1"), "/jobs/1");
        let fixed = Origin::fixed("https://api.example.com/v1/").unwrap();
        assert_eq!(
            fixed.link(&parts, "/jobs/1"),
            "https://api.example.com/v1/jobs/1"
        );
        assert_eq!(
            Origin::FromRequest.link(&parts, "/jobs/1"),
            "http://internal:8080/jobs/1"
        );
        for bad in ["ftp://x", "https://u:p@x", "https://x/?q=1", "/relative"] {
            assert!(Origin::fixed(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_request_origin_comes_from_the_proxy_headers_first() {
        let origin =
            |headers: &[(&str, &str)]| Origin::FromRequest.link(&with_headers(headers), "/jobs/1");
        assert_eq!(
            origin(&[
                ("host", "internal"),
                (
                    "forwarded",
                    "for=1.2.3.4;proto=https;host=\"api.example.com\", for=5.6.7.8"
                ),
            ]),
            "https://api.example.com/jobs/1"
        );
        assert_eq!(
            origin(&[
                ("host", "internal"),
                ("x-forwarded-proto", "https"),
                ("x-forwarded-host", "api.example.com:8443"),
            ]),
            "https://api.example.com:8443/jobs/1"
        );
        // A host that is not one is not written into a link.
        assert_eq!(origin(&[("host", "evil.com/path?x")]), "/jobs/1");
        assert_eq!(origin(&[]), "/jobs/1");
    }

    #[test]
    fn keeps_the_nesting_prefix() {
        let id = JobId::new();
        assert_eq!(
            job_location(&parts("/api/v1/reports/7", "/reports/7"), "/jobs", id),
            format!("/api/v1/jobs/{id}")
        );
        assert_eq!(
            job_location(&parts("/reports/7", "/reports/7"), "/jobs", id),
            format!("/jobs/{id}")
        );
    }
}
