//! The `ASYNCEP_*` environment variables, parsed into typed overrides. No
//! store is built here: the runtime builder decides what they apply to.

use std::time::Duration;

use super::ConfigError;
use crate::store::{Retention, redact_url};

/// What the environment asks for; `None` where it says nothing.
#[derive(Debug, Default)]
pub(crate) struct Overrides {
    pub(crate) workers: Option<usize>,
    pub(crate) shutdown_grace: Option<Duration>,
    pub(crate) cancel_grace: Option<Duration>,
    pub(crate) max_wait: Option<Duration>,
    pub(crate) public_url: Option<String>,
    pub(crate) lease: Option<Duration>,
    pub(crate) body_limit: Option<usize>,
    pub(crate) redact_headers: Vec<String>,
    pub(crate) redact_query: Vec<String>,
    pub(crate) store: StoreVars,
}

/// The variables that choose or tune the store.
#[derive(Debug, Default)]
pub(crate) struct StoreVars {
    pub(crate) url: Option<StoreUrl>,
    pub(crate) memory_capacity: Option<usize>,
    pub(crate) memory_budget: Option<usize>,
    pub(crate) keep_completed: Option<Duration>,
    pub(crate) keep_failed: Option<Duration>,
    pub(crate) redis_prefix: Option<String>,
    pub(crate) postgres_schema: Option<String>,
}

/// Which store `ASYNCEP_STORE_URL` names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum StoreUrl {
    Memory,
    Redis(String),
    Postgres(String),
    Sqlite(String),
}

impl StoreVars {
    /// The retention the variables ask for, on top of `base`.
    pub(crate) fn retention(&self, base: Retention) -> Retention {
        Retention {
            completed: self.keep_completed.unwrap_or(base.completed),
            failed: self.keep_failed.unwrap_or(base.failed),
        }
    }

    /// Whether any variable tunes the store.
    pub(crate) fn tunes(&self) -> bool {
        self.memory_capacity.is_some()
            || self.memory_budget.is_some()
            || self.keep_completed.is_some()
            || self.keep_failed.is_some()
            || self.redis_prefix.is_some()
            || self.postgres_schema.is_some()
    }
}

impl Overrides {
    /// Reads the variables through `var`.
    pub(crate) fn read(var: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let duration = |name: &'static str| var(name).map(|v| env_duration(name, &v)).transpose();
        let number = |name: &'static str, min: usize| {
            var(name).map(|v| env_number(name, &v, min)).transpose()
        };
        let names = |name: &str| -> Vec<String> {
            var(name)
                .map(|value| {
                    value
                        .split(',')
                        .map(|name| name.trim().to_ascii_lowercase())
                        .filter(|name| !name.is_empty())
                        .collect()
                })
                .unwrap_or_default()
        };
        let url = match var("ASYNCEP_STORE_URL").map(|url| url.trim().to_owned()) {
            None => None,
            Some(url) if url.is_empty() => None,
            Some(url) if url == "memory" || url == "memory://" => Some(StoreUrl::Memory),
            Some(url)
                if ["redis://", "rediss://", "redis+unix://"]
                    .iter()
                    .any(|scheme| url.starts_with(scheme)) =>
            {
                Some(StoreUrl::Redis(url))
            }
            Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
                Some(StoreUrl::Postgres(url))
            }
            Some(url) if url.starts_with("sqlite:") => Some(StoreUrl::Sqlite(url)),
            Some(url) => {
                return Err(ConfigError::Env {
                    var: "ASYNCEP_STORE_URL",
                    value: redact_url(&url),
                    expected: "`memory`, a Redis URL such as `redis://127.0.0.1:6379`, a \
                               PostgreSQL URL such as `postgres://app@127.0.0.1/app`, or an \
                               SQLite file such as `sqlite://jobs.db`",
                });
            }
        };
        Ok(Self {
            workers: number("ASYNCEP_WORKERS", 0)?,
            shutdown_grace: duration("ASYNCEP_SHUTDOWN_GRACE")?,
            cancel_grace: duration("ASYNCEP_CANCEL_GRACE")?,
            max_wait: duration("ASYNCEP_MAX_WAIT")?,
            public_url: var("ASYNCEP_PUBLIC_URL"),
            lease: duration("ASYNCEP_LEASE")?,
            body_limit: number("ASYNCEP_BODY_LIMIT", 0)?,
            redact_headers: names("ASYNCEP_REDACT_HEADERS"),
            redact_query: names("ASYNCEP_REDACT_QUERY"),
            store: StoreVars {
                url,
                memory_capacity: number("ASYNCEP_MEMORY_CAPACITY", 1)?,
                memory_budget: var("ASYNCEP_MEMORY_BUDGET")
                    .map(|v| env_bytes("ASYNCEP_MEMORY_BUDGET", &v))
                    .transpose()?,
                keep_completed: duration("ASYNCEP_KEEP_COMPLETED")?,
                keep_failed: duration("ASYNCEP_KEEP_FAILED")?,
                redis_prefix: var("ASYNCEP_REDIS_PREFIX")
                    .map(|prefix| prefix.trim().to_owned())
                    .filter(|prefix| !prefix.is_empty()),
                postgres_schema: var("ASYNCEP_POSTGRES_SCHEMA")
                    .map(|schema| schema.trim().to_owned())
                    .filter(|schema| !schema.is_empty()),
            },
        })
    }
}

/// A duration variable (`500ms`, `30s`, `5m`).
fn env_duration(var: &'static str, value: &str) -> Result<Duration, ConfigError> {
    parse_duration(value).ok_or_else(|| ConfigError::Env {
        var,
        value: value.to_owned(),
        expected: "a duration such as `500ms`, `30s` or `5m`",
    })
}

/// A byte size variable (`512MiB`, `1GB`, `1048576`).
fn env_bytes(var: &'static str, value: &str) -> Result<usize, ConfigError> {
    value
        .trim()
        .parse::<bytesize::ByteSize>()
        .ok()
        .and_then(|size| usize::try_from(size.as_u64()).ok())
        .filter(|bytes| *bytes > 0)
        .ok_or_else(|| ConfigError::Env {
            var,
            value: value.to_owned(),
            expected: "a size such as `512MiB`, `1GB` or `1048576`",
        })
}

/// A whole-number variable of at least `min`.
fn env_number(var: &'static str, value: &str, min: usize) -> Result<usize, ConfigError> {
    let expected = if min == 0 {
        "a whole number"
    } else {
        "a positive whole number"
    };
    value
        .trim()
        .parse()
        .ok()
        .filter(|n| *n >= min)
        .ok_or_else(|| ConfigError::Env {
            var,
            value: value.to_owned(),
            expected,
        })
}

/// Parses `500ms`, `30s`, `5m`, `1h`, `1m30s`.
pub(crate) fn parse_duration(text: &str) -> Option<Duration> {
    humantime::parse_duration(text.trim()).ok()
}

/// A stand-in for the process environment, for tests.
#[cfg(test)]
pub(crate) fn vars(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
    let pairs: Vec<(String, String)> = pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    move |name| {
        pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::vars as env;
    use super::*;

    #[test]
    fn reads_the_environment() {
        let overrides = Overrides::read(env(&[
            ("ASYNCEP_WORKERS", "0"),
            ("ASYNCEP_SHUTDOWN_GRACE", "1m30s"),
            ("ASYNCEP_LEASE", "5s"),
            ("ASYNCEP_REDACT_HEADERS", "X-Token, x-other"),
            ("ASYNCEP_STORE_URL", " redis://10.0.0.5:6379/0 "),
        ]))
        .unwrap();
        assert_eq!(overrides.workers, Some(0));
        assert_eq!(overrides.shutdown_grace, Some(Duration::from_secs(90)));
        assert_eq!(overrides.lease, Some(Duration::from_secs(5)));
        assert_eq!(overrides.redact_headers, ["x-token", "x-other"]);
        assert_eq!(
            overrides.store.url,
            Some(StoreUrl::Redis("redis://10.0.0.5:6379/0".into()))
        );
        assert!(!overrides.store.tunes());
    }

    #[test]
    fn names_the_variable_that_is_wrong() {
        let error = Overrides::read(env(&[("ASYNCEP_SHUTDOWN_GRACE", "soon")])).unwrap_err();
        assert_eq!(
            error.to_string(),
            "ASYNCEP_SHUTDOWN_GRACE=\"soon\" is not valid: expected a duration such as `500ms`, `30s` or `5m`"
        );
        let error = Overrides::read(env(&[("ASYNCEP_STORE_URL", "mongodb://u:pw@x")])).unwrap_err();
        assert!(
            error.to_string().starts_with("ASYNCEP_STORE_URL="),
            "{error}"
        );
        assert!(!error.to_string().contains("pw"), "{error}");
    }

    #[test]
    fn retention_and_capacity_say_what_they_expect() {
        let error = Overrides::read(env(&[("ASYNCEP_KEEP_COMPLETED", "soon")])).unwrap_err();
        assert!(
            error
                .to_string()
                .ends_with("expected a duration such as `500ms`, `30s` or `5m`"),
            "{error}"
        );
        let error = Overrides::read(env(&[("ASYNCEP_MEMORY_CAPACITY", "0")])).unwrap_err();
        assert!(
            error
                .to_string()
                .ends_with("expected a positive whole number"),
            "{error}"
        );
        let error = Overrides::read(env(&[("ASYNCEP_MEMORY_BUDGET", "lots")])).unwrap_err();
        assert!(error.to_string().ends_with("`1048576`"), "{error}");
        let sized = Overrides::read(env(&[("ASYNCEP_MEMORY_BUDGET", "64MiB")])).unwrap();
        assert_eq!(sized.store.memory_budget, Some(64 * 1024 * 1024));
        let tuned = Overrides::read(env(&[("ASYNCEP_KEEP_FAILED", "1h")])).unwrap();
        assert!(tuned.store.tunes());
        assert_eq!(
            tuned.store.retention(Retention::default()).failed,
            Duration::from_secs(3600)
        );
    }

    #[test]
    fn parses_humane_durations() {
        assert_eq!(parse_duration("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse_duration("5m"), Some(Duration::from_secs(300)));
        assert_eq!(parse_duration("five"), None);
    }
}
