//! Humane durations in attribute values: `500ms`, `30s`, `5m`, `1h`, `1m30s`.

use std::time::Duration;

use syn::LitStr;

/// Parses the literal's text, or explains what was expected at its span.
pub(crate) fn parse(literal: &LitStr) -> syn::Result<Duration> {
    let text = literal.value();
    parse_text(&text).ok_or_else(|| {
        syn::Error::new(
            literal.span(),
            format!(
                "invalid duration `{text}`: expected a number and a unit (`ms`, `s`, `m`, `h`), such as `500ms`, `30s`, `5m` or `1h30m`"
            ),
        )
    })
}

fn parse_text(text: &str) -> Option<Duration> {
    let mut rest = text.trim();
    if rest.is_empty() {
        return None;
    }
    let mut total = Duration::ZERO;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        if digits == 0 {
            return None;
        }
        let amount: u64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let unit = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let one = match &rest[..unit] {
            "ms" => Duration::from_millis(1),
            "s" => Duration::from_secs(1),
            "m" => Duration::from_secs(60),
            "h" => Duration::from_secs(60 * 60),
            _ => return None,
        };
        total = total.checked_add(one.checked_mul(u32::try_from(amount).ok()?)?)?;
        rest = &rest[unit..];
    }
    Some(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units_and_sums() {
        assert_eq!(parse_text("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse_text("30s"), Some(Duration::from_secs(30)));
        assert_eq!(parse_text("5m"), Some(Duration::from_secs(300)));
        assert_eq!(parse_text("1h30m"), Some(Duration::from_secs(5400)));
    }

    #[test]
    fn refuses_what_is_not_a_duration() {
        for bad in ["", "30", "s", "3 s", "10 minutes", "1.5s", "-1s", "5d"] {
            assert_eq!(parse_text(bad), None, "{bad}");
        }
    }
}
