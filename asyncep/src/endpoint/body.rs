use serde::de::DeserializeOwned;

use crate::context::NoBody;

/// Why a request body was refused.
#[derive(Debug)]
pub enum BodyError {
    /// No body where the endpoint needs one.
    Missing,
    /// Not JSON at all (`400`).
    Syntax(serde_json::Error),
    /// JSON, but not of the endpoint's body type (`422`).
    Shape(serde_json::Error),
}

impl std::fmt::Display for BodyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Missing => {
                f.write_str("the request has no body; this endpoint expects a JSON body")
            }
            Self::Syntax(error) => write!(f, "the body is not valid JSON: {error}"),
            Self::Shape(error) => write!(f, "the body does not match the expected shape: {error}"),
        }
    }
}

/// The body type of an endpoint: any `T: DeserializeOwned` (a JSON body), or
/// [`NoBody`] (no body is read).
///
/// Which one an endpoint has is decided here, from the type, so the macro
/// never guesses from a type's name.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be the body of an async endpoint",
    label = "the body type must implement `serde::Deserialize`",
    note = "use `AsyncContext<T>` with `T: serde::de::DeserializeOwned + Send + 'static`, or plain `AsyncContext` for an endpoint without a body"
)]
pub trait JobBody: Sized + Send + 'static {
    /// Whether the endpoint reads a request body at all.
    const READS_BODY: bool;

    /// Decodes the body's JSON text.
    fn decode(text: Option<&str>) -> Result<Self, BodyError>;
}

impl JobBody for NoBody {
    const READS_BODY: bool = false;

    fn decode(_: Option<&str>) -> Result<Self, BodyError> {
        Ok(NoBody)
    }
}

impl<T: DeserializeOwned + Send + 'static> JobBody for T {
    const READS_BODY: bool = true;

    fn decode(text: Option<&str>) -> Result<Self, BodyError> {
        let text = text.ok_or(BodyError::Missing)?;
        serde_json::from_str(text).map_err(|error| {
            if error.is_syntax() || error.is_eof() {
                BodyError::Syntax(error)
            } else {
                BodyError::Shape(error)
            }
        })
    }
}

/// The body's text, not yet parsed: the endpoint's `check` parses it once,
/// and a body that parses is kept as it was sent.
pub(crate) fn body_text(bytes: &[u8]) -> Result<Box<str>, BodyError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(BodyError::Missing);
    }
    match std::str::from_utf8(bytes) {
        Ok(text) => Ok(text.into()),
        Err(error) => Err(BodyError::Syntax(serde::de::Error::custom(format_args!(
            "the body is not UTF-8 text: {error}"
        )))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug)]
    struct Order {
        #[allow(dead_code)]
        qty: u32,
    }

    #[test]
    fn no_body_reads_nothing() {
        const { assert!(!NoBody::READS_BODY) };
        assert!(NoBody::decode(None).is_ok());
    }

    #[test]
    fn shape_errors_are_not_syntax_errors() {
        const { assert!(Order::READS_BODY) };
        let text = body_text(br#"{"qty":"many"}"#).unwrap();
        assert!(matches!(
            Order::decode(Some(&text)),
            Err(BodyError::Shape(_))
        ));
        assert!(matches!(
            Order::decode(Some("{oops")),
            Err(BodyError::Syntax(_))
        ));
        assert!(matches!(
            Order::decode(Some(r#"{"qty":1} x"#)),
            Err(BodyError::Syntax(_))
        ));
        assert!(matches!(body_text(b"  "), Err(BodyError::Missing)));
        assert!(matches!(
            body_text(b"[\"\xff\"]"),
            Err(BodyError::Syntax(_))
        ));
    }
}
