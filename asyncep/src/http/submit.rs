//! The submit route of an endpoint: check, store, answer `202 Accepted`.

use std::sync::Arc;

use axum::extract::{FromRequestParts, RawPathParams, Request};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tracing::{Instrument, debug, info_span, warn};

use super::idempotency::IdempotencyHeaders;
use super::location::job_location;
use super::wait::{preferred_wait, until_finished};
use super::{Api, Problem, Redaction, body, document};
use crate::endpoint::{Endpoint, Submission, body_text};
use crate::job::{JobId, JobInput};
use crate::store::{Created, StoreError};

const MISSING_KEY_WARNING: HeaderValue = HeaderValue::from_static(
    "299 asyncep \"no Idempotency-Key: a retried request may create a second job\"",
);

pub(super) async fn submit(
    api: Arc<Api>,
    endpoint: &'static Endpoint,
    request: Request,
) -> Response {
    let idempotency = match IdempotencyHeaders::from_headers(request.headers()) {
        Ok(idempotency) => idempotency,
        Err(problem) => return problem.into_response(),
    };
    let id = idempotency.request_id.unwrap_or_default();
    let span = info_span!("asyncep.submit", job.id = %id, job.name = endpoint.job);
    crate::trace::adopt_request(&span, request.headers());
    accept(&api, endpoint, request, id, idempotency)
        .instrument(span)
        .await
        .unwrap_or_else(|refusal| refusal)
}

async fn accept(
    api: &Api,
    endpoint: &'static Endpoint,
    request: Request,
    id: JobId,
    idempotency: IdempotencyHeaders,
) -> Result<Response, Response> {
    let (mut parts, body) = request.into_parts();
    let route_params = RawPathParams::from_request_parts(&mut parts, &())
        .await
        .map_err(|rejection| Problem::invalid_path(rejection.body_text()).into_response())?
        .iter()
        .map(|(name, value)| (name.to_owned(), value.to_owned()))
        .collect();
    let query = parts.uri.query().map(str::to_owned);
    let location = job_location(&parts, &api.settings.job_prefix, id);
    let caller = api.settings.callers.of(&parts);
    let prefer = preferred_wait(&parts.headers, api.settings.max_wait);
    // Read before the headers move into the submission.
    let links = api.settings.origin.base(&parts);
    let headers = std::mem::take(&mut parts.headers);
    let body = if endpoint.reads_body {
        check_content_type(&headers)?;
        let bytes = body::read(body, &headers, api.settings.body_limit).await?;
        Some(body_text(&bytes).map_err(Problem::from)?)
    } else {
        None
    };
    let submission = Submission {
        body,
        headers,
        route_params,
        query,
        job_id: id,
        job_name: endpoint.job,
        caller: caller.clone(),
        states: api.states.clone(),
    };
    match endpoint.validate {
        Some(validate) => validate(&submission).await?,
        None => (endpoint.check)(&submission)?,
    }
    let settings = &api.settings;
    let headers = stored_headers(&submission.headers, &settings.redaction);
    if headers
        .iter()
        .map(|(n, v)| n.len() + v.len())
        .sum::<usize>()
        > settings.stored_headers_limit
    {
        return Err(Problem::headers_too_large(settings.stored_headers_limit).into_response());
    }
    let query = settings.redaction.stored_query(submission.query.as_deref());
    if query
        .as_ref()
        .is_some_and(|q| q.len() > settings.stored_query_limit)
    {
        return Err(Problem::query_too_large(settings.stored_query_limit).into_response());
    }
    let input = JobInput {
        headers,
        query,
        body: submission.body,
        route_params: submission.route_params,
        trace: crate::trace::capture(&tracing::Span::current()),
    };
    let keyed = idempotency.is_requested();
    let job = endpoint.new_job(
        id,
        input,
        keyed,
        idempotency.key,
        caller,
        api.settings.default_retries,
    );
    let created = api.store.create(job).await.map_err(|error| match error {
        StoreError::OutcomeUnknown { retry_after, .. } => {
            warn!(%error, "the store did not confirm the job");
            let mut response =
                Problem::store_outcome_unknown(retry_after, &location, keyed).into_response();
            let location = links.link(&location);
            if let Ok(location) = HeaderValue::try_from(location.as_str()) {
                response.headers_mut().insert(header::LOCATION, location);
            }
            response
        }
        error => Problem::from(&error).into_response(),
    })?;
    match &created {
        Created::New(_) => api.meters.submitted(endpoint.job),
        Created::Existing(job) => {
            debug!(existing = %job.id, "repeated request; answering with the existing job");
        }
    }
    let job = created.job();
    let waited = match prefer {
        Some(wait) if !job.status.is_terminal() => {
            // The job is stored: a failure to wait is answered as no wait.
            match until_finished(&*api.store, job.clone(), wait).await {
                Ok(Some(finished)) if finished.status.is_terminal() => Some(finished),
                Ok(_) => None,
                Err(error) => {
                    warn!(%error, "could not wait for the job; answering 202");
                    None
                }
            }
        }
        Some(_) => Some(job.clone()),
        None => None,
    };
    let mut response = match &waited {
        Some(finished) => document(StatusCode::OK, finished),
        None => document(StatusCode::ACCEPTED, job),
    };
    let headers = response.headers_mut();
    headers.insert(header::VARY, HeaderValue::from_static("Prefer"));
    if let (Some(_), Some(wait)) = (&waited, prefer) {
        if let Ok(applied) = HeaderValue::try_from(format!("wait={}", wait.as_secs())) {
            headers.insert(HeaderName::from_static("preference-applied"), applied);
        }
    }
    let location = if job.id == id {
        location
    } else {
        job_location(&parts, &api.settings.job_prefix, job.id)
    };
    let operation = links.link_with(&location, "/operation");
    if let Ok(location) = HeaderValue::try_from(links.link(&location)) {
        headers.insert(header::LOCATION, location);
    }
    if let Ok(operation) = HeaderValue::try_from(operation) {
        headers.insert(HeaderName::from_static("operation-location"), operation);
    }
    if waited.is_none() {
        headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
    if !keyed {
        headers.insert(header::WARNING, MISSING_KEY_WARNING);
    }
    Ok(response)
}

/// `application/json`, or any `application/*+json`, with parameters.
fn check_content_type(headers: &HeaderMap) -> Result<(), Problem> {
    let Some(value) = headers.get(header::CONTENT_TYPE) else {
        return Err(Problem::unsupported_media_type(None));
    };
    let text = value.to_str().unwrap_or("");
    let essence = text
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let is_json = essence == "application/json"
        || essence
            .strip_prefix("application/")
            .is_some_and(|subtype| subtype.ends_with("+json"));
    if is_json {
        Ok(())
    } else {
        Err(Problem::unsupported_media_type(Some(text)))
    }
}

/// The headers kept with the job: what the redaction keeps.
fn stored_headers(headers: &HeaderMap, redaction: &Redaction) -> Vec<(String, String)> {
    headers
        .iter()
        .filter(|(name, _)| redaction.keeps_header(name.as_str()))
        .map(|(name, value)| {
            (
                name.as_str().to_owned(),
                String::from_utf8_lossy(value.as_bytes()).into_owned(),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_content_types_are_accepted() {
        for ok in [
            "application/json",
            "application/json; charset=utf-8",
            "Application/JSON",
            "application/problem+json",
        ] {
            let mut headers = HeaderMap::new();
            headers.insert(header::CONTENT_TYPE, ok.parse().unwrap());
            assert!(check_content_type(&headers).is_ok(), "{ok}");
        }
        for bad in ["text/plain", "application/jsonx", "multipart/form-data"] {
            let mut headers = HeaderMap::new();
            headers.insert(header::CONTENT_TYPE, bad.parse().unwrap());
            assert_eq!(
                check_content_type(&headers).unwrap_err().status(),
                415,
                "{bad}"
            );
        }
        assert!(check_content_type(&HeaderMap::new()).is_err());
    }

    #[test]
    fn redacted_headers_are_not_stored() {
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, "Bearer secret".parse().unwrap());
        headers.insert("x-trace", "abc".parse().unwrap());
        headers.insert(header::CONTENT_LENGTH, "12".parse().unwrap());
        headers.insert(header::CONNECTION, "keep-alive".parse().unwrap());
        let stored = stored_headers(&headers, &Redaction::default());
        assert_eq!(stored, [("x-trace".to_owned(), "abc".to_owned())]);
    }
}
