//! The adapter that lets the `oauth2` crate send token requests through the client's one
//! reqwest client, under the same flow control and metrics as every other request.
//!
//! It never sees a parsed token, and its errors never carry a response body.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU16, Ordering};

use oauth2::basic::BasicErrorResponse;
use oauth2::{AsyncHttpClient, HttpRequest, HttpResponse, RequestTokenError};
use reqwest::Method;
use tracing::debug;

use super::auth::{Ctx, TOKEN_PATH};
use super::error::ServiceNowError;
use super::transport;

/// Lets `oauth2` send through our reqwest client. A named type with a boxed `Send` future
/// rather than a closure: the closure's future is not provably `Send` for every lifetime,
/// which would make every client future unusable with `tokio::spawn`.
pub(crate) struct TokenHttp<'a> {
    pub ctx: &'a Ctx<'a>,
    /// The HTTP status of the last answer, for error messages (`oauth2` drops it).
    pub status: &'a AtomicU16,
}

impl<'c> AsyncHttpClient<'c> for TokenHttp<'_> {
    type Error = ServiceNowError;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, ServiceNowError>> + Send + 'c>>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(token_http(self.ctx, self.status, request))
    }
}

/// The adapter between `oauth2` and the one reqwest client: flow control, metrics, and the
/// statuses `oauth2` must not see. A 429, 5xx, redirect or HTML page becomes our own error
/// (retryable where it should be); 200 and the 4xx refusals go to `oauth2` to parse.
async fn token_http(
    ctx: &Ctx<'_>,
    status_seen: &AtomicU16,
    req: HttpRequest,
) -> Result<HttpResponse, ServiceNowError> {
    let request = reqwest::Request::try_from(req)
        .map_err(|e| ServiceNowError::Setup(format!("token request: {e}")))?;
    let endpoint = format!("/{TOKEN_PATH}");
    let reply = transport::execute_raw(
        ctx,
        "token",
        &Method::POST,
        &endpoint,
        request,
        // A token request changes no record: it is never fenced.
        None,
    )
    .await?;
    status_seen.store(reply.status.as_u16(), Ordering::Relaxed);
    debug!(status = reply.status.as_u16(), "token endpoint answered");
    let passes =
        reply.status == reqwest::StatusCode::OK || matches!(reply.status.as_u16(), 400 | 401 | 403);
    if !passes || reply.is_html() {
        return Err(transport::error_from(&Method::POST, &endpoint, &reply));
    }
    let mut builder = oauth2::http::Response::builder().status(reply.status);
    for (k, v) in &reply.headers {
        builder = builder.header(k, v);
    }
    builder
        .body(reply.body)
        .map_err(|e| ServiceNowError::Decode {
            method: Method::POST,
            endpoint,
            message: e.to_string(),
        })
}

/// Maps an `oauth2` failure to our error. Parse failures keep only the JSON path: the body of a
/// token response holds the token itself.
pub(crate) fn token_error(
    grant: &'static str,
    status: &AtomicU16,
    err: RequestTokenError<ServiceNowError, BasicErrorResponse>,
) -> ServiceNowError {
    let status = match status.load(Ordering::Relaxed) {
        0 => String::new(),
        s => format!("HTTP {s} "),
    };
    match err {
        RequestTokenError::Request(e) => e,
        RequestTokenError::ServerResponse(r) => ServiceNowError::Auth {
            grant,
            message: format!(
                "the token endpoint refused it: {status}{}{}",
                r.error(),
                r.error_description()
                    .map(|d| format!(" ({d})"))
                    .unwrap_or_default()
            ),
        },
        RequestTokenError::Parse(e, _body) => ServiceNowError::Auth {
            grant,
            message: format!(
                "the token endpoint sent an unexpected {status}response (at `{}`)",
                e.path()
            ),
        },
        RequestTokenError::Other(m) => ServiceNowError::Auth {
            grant,
            message: format!("the token endpoint sent an unexpected {status}response: {m}"),
        },
    }
}
