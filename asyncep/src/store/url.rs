//! Store URLs in messages: never with their password.

/// `url` with its password (if any) masked as `***`; a text that does not
/// parse as a URL is shown whole only if it has no `@` (which could mark a
/// password).
pub(crate) fn redact_url(text: &str) -> String {
    match url::Url::parse(text) {
        Ok(mut parsed) => {
            if parsed.password().is_some() {
                // Every URL with a password has a host, so this cannot fail.
                let _ = parsed.set_password(Some("***"));
            }
            parsed.to_string()
        }
        Err(_) if text.contains('@') => "(a URL that does not parse)".to_owned(),
        Err(_) => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_passwords() {
        assert_eq!(
            redact_url("redis://:secret@host:6379/0"),
            "redis://:***@host:6379/0"
        );
        assert_eq!(
            redact_url("postgres://app:secret@db/jobs"),
            "postgres://app:***@db/jobs"
        );
        assert_eq!(redact_url("redis://host:6379"), "redis://host:6379");
        assert_eq!(redact_url("://user:pw@host"), "(a URL that does not parse)");
    }
}
