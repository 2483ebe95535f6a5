//! The attribute's arguments, parsed into [`EndpointArgs`].

use std::time::Duration;

use proc_macro2::Span;
use syn::ext::IdentExt;
use syn::parse::{Parse, ParseStream};
use syn::{Ident, LitInt, LitStr, Path, Token};

use crate::diag::Errors;
use crate::duration;
use crate::route::{self, RoutePath};

const KEYS: &str = "`job`, `post`, `put`, `patch`, `delete`, `get`, `retries`, `timeout`, \
     `backoff`, `validate`, `handle`";
const METHODS: &str = "`post`, `put`, `patch`, `delete` or `get`";

/// The HTTP method key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Method {
    Get,
    Post,
    Put,
    Patch,
    Delete,
}

impl Method {
    fn from_key(key: &str) -> Option<Self> {
        Some(match key {
            "get" => Self::Get,
            "post" => Self::Post,
            "put" => Self::Put,
            "patch" => Self::Patch,
            "delete" => Self::Delete,
            _ => return None,
        })
    }

    /// The variant's name in the runtime's `Method`.
    pub(crate) fn variant(self) -> &'static str {
        match self {
            Self::Get => "Get",
            Self::Post => "Post",
            Self::Put => "Put",
            Self::Patch => "Patch",
            Self::Delete => "Delete",
        }
    }
}

/// `#[async_endpoint(...)]`'s arguments, checked.
#[cfg_attr(test, derive(Debug))]
pub(crate) struct EndpointArgs {
    pub(crate) job: LitStr,
    pub(crate) method: Method,
    pub(crate) route: RoutePath,
    pub(crate) retries: Option<u32>,
    pub(crate) timeout: Option<Duration>,
    pub(crate) backoff: Option<Duration>,
    pub(crate) validate: Option<Path>,
    /// The name of the unit struct that names the job in Rust code.
    pub(crate) handle: Option<Ident>,
}

/// One `key = value`, as written.
enum Arg {
    Job(Ident, LitStr),
    Method(Ident, Method, LitStr),
    Retries(Ident, LitInt),
    Timeout(Ident, LitStr),
    Backoff(Ident, LitStr),
    Validate(Ident, Path),
    Handle(Ident, Ident),
}

impl Arg {
    fn key(&self) -> &Ident {
        match self {
            Self::Job(key, _)
            | Self::Method(key, ..)
            | Self::Retries(key, _)
            | Self::Timeout(key, _)
            | Self::Backoff(key, _)
            | Self::Validate(key, _)
            | Self::Handle(key, _) => key,
        }
    }
}

impl Parse for Arg {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let key = Ident::parse_any(input)?;
        let name = key.to_string();
        if name != "job"
            && name != "retries"
            && name != "timeout"
            && name != "backoff"
            && name != "validate"
            && name != "handle"
            && Method::from_key(&name).is_none()
        {
            return Err(syn::Error::new(
                key.span(),
                format!("unknown key `{name}`; expected one of {KEYS}"),
            ));
        }
        input.parse::<Token![=]>().map_err(|_| {
            syn::Error::new(
                key.span(),
                format!("expected `=` after `{name}`, as in `{name} = ...`"),
            )
        })?;
        let expect = |what: &str| {
            let message = format!("`{name}` takes {what}");
            move |error: syn::Error| syn::Error::new(error.span(), message)
        };
        Ok(match name.as_str() {
            "job" => Self::Job(
                key,
                input
                    .parse()
                    .map_err(expect("a string, as in `job = \"render-report\"`"))?,
            ),
            "retries" => Self::Retries(
                key,
                input
                    .parse()
                    .map_err(expect("a whole number, as in `retries = 3`"))?,
            ),
            "timeout" => Self::Timeout(
                key,
                input
                    .parse()
                    .map_err(expect("a duration string, as in `timeout = \"30s\"`"))?,
            ),
            "backoff" => Self::Backoff(
                key,
                input
                    .parse()
                    .map_err(expect("a duration string, as in `backoff = \"2s\"`"))?,
            ),
            "validate" => Self::Validate(
                key,
                input.parse().map_err(expect(
                    "a path to an async fn, as in `validate = check_report`",
                ))?,
            ),
            "handle" => Self::Handle(
                key,
                input.parse().map_err(expect(
                    "a type name, as in `handle = RenderReport` (a unit struct is generated)",
                ))?,
            ),
            method => {
                let method = Method::from_key(method).expect("checked above");
                let route = input
                    .parse()
                    .map_err(expect("a route string, as in `post = \"/reports/<id>\"`"))?;
                Self::Method(key, method, route)
            }
        })
    }
}

impl EndpointArgs {
    /// Parses and checks the arguments, reporting every mistake.
    pub(crate) fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let args = input.parse_terminated(Arg::parse, Token![,])?;
        let mut errors = Errors::default();
        let mut seen: Vec<String> = Vec::new();
        let mut job = None;
        let mut method: Option<(Ident, Method)> = None;
        let mut route = None;
        let (mut retries, mut timeout, mut backoff, mut validate) = (None, None, None, None);
        let mut handle = None;
        for arg in args {
            let key = arg.key().to_string();
            if seen.contains(&key) {
                errors.push(syn::Error::new(
                    arg.key().span(),
                    format!("duplicate key `{key}`"),
                ));
                continue;
            }
            seen.push(key);
            match arg {
                Arg::Job(_, name) => {
                    if name.value().trim().is_empty() {
                        errors.push(syn::Error::new(name.span(), "the job name cannot be empty"));
                    } else if name.value().chars().any(char::is_control) {
                        errors.push(syn::Error::new(
                            name.span(),
                            "the job name cannot hold control characters (it is stored, \
                             logged and listed as text)",
                        ));
                    }
                    job = Some(name);
                }
                Arg::Method(key, new, literal) => match &method {
                    Some((first, ..)) => errors.push(syn::Error::new(
                        key.span(),
                        format!("an endpoint has one method, and `{first}` is already given; remove `{key}`"),
                    )),
                    None => {
                        route = errors.take(route::parse(&literal));
                        method = Some((key, new));
                    }
                },
                Arg::Retries(_, value) => retries = errors.take(value.base10_parse::<u32>()),
                Arg::Timeout(_, value) => {
                    timeout = errors.take(duration::parse(&value).and_then(|d| positive(d, &value, "timeout")));
                }
                Arg::Backoff(_, value) => backoff = errors.take(duration::parse(&value)),
                Arg::Validate(_, path) => validate = Some(path),
                Arg::Handle(_, name) => handle = Some(name),
            }
        }
        if job.is_none() {
            errors.push(syn::Error::new(
                Span::call_site(),
                "missing `job = \"...\"`: every async endpoint needs a unique job name",
            ));
        }
        if method.is_none() {
            errors.push(syn::Error::new(
                Span::call_site(),
                format!("missing route: add one of {METHODS} with a route, as in `post = \"/reports/<id>\"`"),
            ));
        }
        errors.finish()?;
        let (Some(job), Some((_, method)), Some(route)) = (job, method, route) else {
            unreachable!("every missing piece was reported above");
        };
        Ok(Self {
            job,
            method,
            route,
            retries,
            timeout,
            backoff,
            validate,
            handle,
        })
    }
}

fn positive(duration: Duration, literal: &LitStr, key: &str) -> syn::Result<Duration> {
    if duration.is_zero() {
        Err(syn::Error::new(
            literal.span(),
            format!("`{key}` must be longer than zero"),
        ))
    } else {
        Ok(duration)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use syn::parse::Parser;

    fn parse(tokens: proc_macro2::TokenStream) -> syn::Result<EndpointArgs> {
        EndpointArgs::parse.parse2(tokens)
    }

    fn error(tokens: proc_macro2::TokenStream) -> String {
        parse(tokens)
            .unwrap_err()
            .into_iter()
            .map(|e| e.to_string())
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[test]
    fn parses_every_key() {
        let args = parse(quote::quote!(
            job = "render",
            put = "/r/<id>",
            retries = 5,
            timeout = "1m",
            backoff = "100ms",
            validate = crate::check,
            handle = Render
        ))
        .unwrap();
        assert_eq!(args.job.value(), "render");
        assert_eq!(args.method, Method::Put);
        assert_eq!(args.route.axum, "/r/{id}");
        assert_eq!(args.retries, Some(5));
        assert_eq!(args.timeout, Some(Duration::from_secs(60)));
        assert_eq!(args.backoff, Some(Duration::from_millis(100)));
        assert!(args.validate.is_some());
        assert_eq!(args.handle.unwrap(), "Render");
    }

    #[test]
    fn reports_every_mistake_at_once() {
        let message = error(quote::quote!(jobb = "x"));
        assert!(message.contains("unknown key `jobb`"), "{message}");
        let message = error(quote::quote!(retries = 1));
        assert!(message.contains("missing `job"), "{message}");
        assert!(message.contains("missing route"), "{message}");
    }

    #[test]
    fn refuses_repeats_and_second_methods() {
        assert!(
            error(quote::quote!(job = "a", job = "b", post = "/")).contains("duplicate key `job`")
        );
        assert!(
            error(quote::quote!(job = "a", post = "/", put = "/"))
                .contains("`post` is already given")
        );
    }

    #[test]
    fn refuses_values_of_the_wrong_kind() {
        assert!(
            error(quote::quote!(job = "a", post = "/", retries = "3"))
                .contains("`retries` takes a whole number")
        );
        assert!(
            error(quote::quote!(job = "a", post = "/", timeout = "0s"))
                .contains("longer than zero")
        );
        assert!(
            error(quote::quote!(job = "a", post = "/", handle = "Render"))
                .contains("`handle` takes a type name")
        );
        assert!(
            error(quote::quote!(job = "a", post = "/", timeout = "soon"))
                .contains("invalid duration `soon`")
        );
    }
}
