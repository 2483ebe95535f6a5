//! Reading a request body within its limit, so that a client that sends the
//! whole body before it reads the answer still gets the `413`.

use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;

use super::Problem;

/// A body over the limit is read and thrown away up to this much, so a
/// client that writes all of it before reading (Python's `urllib`, many
/// SDKs) reads the `413` instead of a broken pipe. Past it, or past
/// [`DRAIN_TIME`], the connection is closed.
pub(super) const DRAIN_LIMIT: u64 = 64 * 1024 * 1024;
const DRAIN_TIME: Duration = Duration::from_secs(10);

/// The whole body, or the answer to send instead.
pub(super) async fn read(body: Body, headers: &HeaderMap, limit: usize) -> Result<Bytes, Response> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|length| length > DRAIN_LIMIT) {
        return Err(too_large(limit));
    }
    let mut stream = body.into_data_stream();
    let mut bytes = Vec::with_capacity(declared.map_or(0, |n| n.min(limit as u64) as usize));
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|error| {
            Problem::unreadable_body(format!("the body could not be read: {error}")).into_response()
        })?;
        if bytes.len() + chunk.len() > limit {
            let mut seen = (bytes.len() + chunk.len()) as u64;
            drop(bytes);
            let drained = tokio::time::timeout(DRAIN_TIME, async {
                while let Some(Ok(chunk)) = stream.next().await {
                    seen += chunk.len() as u64;
                    if seen > DRAIN_LIMIT {
                        return;
                    }
                }
            })
            .await;
            let _ = drained;
            return Err(too_large(limit));
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(Bytes::from(bytes))
}

/// `413`, and the connection closes after it: what is left of the body is
/// not read.
fn too_large(limit: usize) -> Response {
    let mut response = Problem::body_too_large(limit).into_response();
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}
