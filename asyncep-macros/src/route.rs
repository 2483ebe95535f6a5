//! Route strings: `/reports/<id>` or axum's `/reports/{id}`, checked and
//! turned into axum's syntax.

use syn::LitStr;

/// A checked route, in axum's syntax.
#[cfg_attr(test, derive(Debug))]
pub(crate) struct RoutePath {
    /// The route as axum wants it: `/reports/{id}`.
    pub(crate) axum: String,
}

/// Parses a route literal; every mistake points at the literal.
pub(crate) fn parse(literal: &LitStr) -> syn::Result<RoutePath> {
    parse_text(&literal.value()).map_err(|message| syn::Error::new(literal.span(), message))
}

fn parse_text(route: &str) -> Result<RoutePath, String> {
    if !route.starts_with('/') {
        return Err(format!("route `{route}` must start with `/`"));
    }
    if route.contains("//") {
        return Err(format!("route `{route}` has an empty segment (`//`)"));
    }
    let mut params: Vec<String> = Vec::new();
    let mut segments = Vec::new();
    let parts: Vec<&str> = route[1..].split('/').collect();
    for (index, segment) in parts.iter().enumerate() {
        let is_last = index + 1 == parts.len();
        segments.push(parse_segment(route, segment, is_last, &mut params)?);
    }
    Ok(RoutePath {
        axum: format!("/{}", segments.join("/")),
    })
}

fn parse_segment(
    route: &str,
    segment: &str,
    is_last: bool,
    params: &mut Vec<String>,
) -> Result<String, String> {
    if let Some(name) = segment.strip_prefix(':') {
        return Err(format!(
            "route `{route}` uses `:{name}`; write route parameters as `<{name}>` or `{{{name}}}`"
        ));
    }
    let (open, close) = match segment.chars().next() {
        Some('<') => ('<', '>'),
        Some('{') => ('{', '}'),
        _ => {
            if let Some(bad) = segment.chars().find(|c| matches!(c, '<' | '>' | '{' | '}')) {
                return Err(format!(
                    "route `{route}` has `{bad}` inside the segment `{segment}`; a route parameter must be a whole segment, such as `/<id>`"
                ));
            }
            return Ok(segment.to_owned());
        }
    };
    let Some(inner) = segment[1..].strip_suffix(close) else {
        return Err(if segment[1..].contains(close) {
            format!(
                "route `{route}` has text after `{close}` in `{segment}`; a route parameter must be a whole segment"
            )
        } else {
            format!("route `{route}` has an unclosed `{open}`; close it: `{open}name{close}`")
        });
    };
    let (name, wildcard) = match (open, inner) {
        ('{', inner) if inner.starts_with('*') => (&inner[1..], true),
        ('<', inner) if inner.ends_with("..") => (&inner[..inner.len() - 2], true),
        (_, inner) => (inner, false),
    };
    if name.is_empty() {
        return Err(format!(
            "route `{route}` has a parameter with an empty name: `{segment}`"
        ));
    }
    let valid = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !valid {
        return Err(format!(
            "route `{route}` has a parameter named `{name}`; a name is letters, digits and `_`, not starting with a digit"
        ));
    }
    if params.iter().any(|p| p == name) {
        return Err(format!("route `{route}` has the parameter `{name}` twice"));
    }
    if wildcard && !is_last {
        return Err(format!(
            "route `{route}`: the catch-all parameter `{name}` must be the last segment"
        ));
    }
    params.push(name.to_owned());
    Ok(if wildcard {
        format!("{{*{name}}}")
    } else {
        format!("{{{name}}}")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn axum(route: &str) -> String {
        parse_text(route).unwrap().axum
    }

    fn error(route: &str) -> String {
        parse_text(route).unwrap_err()
    }

    #[test]
    fn both_syntaxes_mean_the_same() {
        assert_eq!(axum("/reports/<id>"), "/reports/{id}");
        assert_eq!(axum("/reports/{id}"), "/reports/{id}");
        assert_eq!(axum("/a/<x>/b/{y}"), "/a/{x}/b/{y}");
        assert_eq!(axum("/files/<path..>"), "/files/{*path}");
        assert_eq!(axum("/files/{*path}"), "/files/{*path}");
        assert_eq!(axum("/"), "/");
    }

    #[test]
    fn explains_each_mistake() {
        assert!(error("reports").contains("must start with `/`"));
        assert!(error("/reports/<id").contains("unclosed `<`"));
        assert!(error("/reports/{id").contains("unclosed `{`"));
        assert!(error("/reports/<>").contains("empty name"));
        assert!(error("/a/<id>/b/<id>").contains("`id` twice"));
        assert!(error("/a/:id").contains("write route parameters as `<id>` or `{id}`"));
        assert!(error("/a/<id>.json").contains("whole segment"));
        assert!(error("/a/x<id>").contains("whole segment"));
        assert!(error("/a/<1x>").contains("letters, digits"));
        assert!(error("/a/<p..>/b").contains("last segment"));
        assert!(error("/a//b").contains("empty segment"));
    }
}
