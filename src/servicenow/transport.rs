//! One HTTP exchange with the instance: URL building, authentication (with the single
//! re-authentication after a 401), flow control, metrics, and turning answers into errors.
//!
//! It never retries a failed request on its own; that schedule belongs to the caller.

use std::time::Duration;

use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderMap, LOCATION, RETRY_AFTER};
use reqwest::{Method, StatusCode};
use serde_json::Value;
use tokio::time::Instant;
use tracing::{debug, warn};
use url::Url;

use super::auth::{Auth, Ctx};
use super::error::{ServiceNowError, parse_retry_after};
use super::fence::WriteFence;
use super::flow::Flow;
use super::wire::{self, ResultBody};

/// How long everyone waits after a 429 that named no `Retry-After`.
const DEFAULT_PAUSE: Duration = Duration::from_secs(1);

/// The HTTP side of a client, shared by all its clones.
pub(crate) struct Transport {
    pub http: reqwest::Client,
    pub base: Url,
    pub timeout: Duration,
    pub flow: Flow,
    pub auth: Auth,
}

/// The transport as one client sees it: with the fence its writes must pass, if any.
pub(crate) struct Exchange<'a> {
    pub transport: &'a Transport,
    pub fence: Option<&'a dyn WriteFence>,
}

impl Exchange<'_> {
    pub async fn authenticate(&self) -> Result<(), ServiceNowError> {
        self.transport.authenticate().await
    }

    pub async fn send(&self, call: &Call<'_>) -> Result<Reply, ServiceNowError> {
        self.transport.send(call, self.fence).await
    }

    pub async fn send_ok(&self, call: &Call<'_>) -> Result<Reply, ServiceNowError> {
        let reply = self.send(call).await?;
        success(&call.method, &call.endpoint(), reply)
    }

    pub async fn one(&self, call: &Call<'_>) -> Result<wire::Record, ServiceNowError> {
        let reply = self.send_ok(call).await?;
        match decode(&call.method, &call.endpoint(), &reply)? {
            ResultBody::One(r) => Ok(r),
            ResultBody::Many(mut rows) if rows.len() == 1 => Ok(rows.remove(0)),
            ResultBody::Many(rows) => Err(ServiceNowError::Decode {
                method: call.method.clone(),
                endpoint: call.endpoint(),
                message: format!("expected one record, got a list of {}", rows.len()),
            }),
            ResultBody::Missing => unreachable_missing(call),
        }
    }

    pub async fn renew_token(&self) -> Result<(), ServiceNowError> {
        self.transport.renew_token().await
    }
}

/// One request to make.
pub(crate) struct Call<'a> {
    /// The `operation` label of the metrics: `create`, `get`, `query`, ...
    pub op: &'static str,
    pub method: Method,
    /// Relative to the instance URL, e.g. `api/now/table/incident`.
    pub path: String,
    pub query: Vec<(&'static str, String)>,
    pub body: Option<&'a Value>,
    /// How long the call may take when that is longer than the request timeout: a Batch API
    /// call's items run one after another on the instance. A write's fence may cut it.
    pub lasting: Option<Duration>,
}

impl Call<'_> {
    /// The endpoint as errors and logs name it: the path, without the query.
    pub fn endpoint(&self) -> String {
        format!("/{}", self.path)
    }
}

/// An answer from the instance, whatever its status.
pub(crate) struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn total_count(&self) -> Option<u64> {
        self.header("x-total-count")
            .and_then(|v| v.trim().parse().ok())
    }

    /// An HTML page (maintenance, hibernation, login portal) rather than an API answer.
    pub fn is_html(&self) -> bool {
        let by_type = self
            .header(CONTENT_TYPE.as_str())
            .is_some_and(|t| t.to_ascii_lowercase().contains("html"));
        let by_body = self
            .body
            .iter()
            .find(|b| !b.is_ascii_whitespace())
            .is_some_and(|b| *b == b'<');
        by_type || by_body
    }
}

impl Transport {
    fn ctx(&self) -> Ctx<'_> {
        Ctx {
            http: &self.http,
            flow: &self.flow,
            timeout: self.timeout,
        }
    }

    /// Makes sure a credential is at hand: for OAuth, a token from the token endpoint.
    pub async fn authenticate(&self) -> Result<(), ServiceNowError> {
        self.auth.credential(&self.ctx()).await.map(drop)
    }

    /// Sends `call`, renewing the token once and re-sending after a 401. Any status comes back
    /// as a `Reply`; only failures to get an answer are errors. A write passes `fence` first.
    pub async fn send(
        &self,
        call: &Call<'_>,
        fence: Option<&dyn WriteFence>,
    ) -> Result<Reply, ServiceNowError> {
        let mut url = self
            .base
            .join(&call.path)
            .map_err(|e| ServiceNowError::InvalidRequest(format!("path `{}`: {e}", call.path)))?;
        if !call.query.is_empty() {
            let mut pairs = url.query_pairs_mut();
            for (k, v) in &call.query {
                pairs.append_pair(k, v);
            }
        }
        let endpoint = call.endpoint();
        let mut renewed = false;
        loop {
            let credential = self.auth.credential(&self.ctx()).await?;
            let mut request = self
                .http
                .request(call.method.clone(), url.clone())
                .header(AUTHORIZATION, credential.header)
                .header(ACCEPT, "application/json");
            if let Some(body) = call.body {
                request = request.json(body);
            }
            if let Some(lasting) = call.lasting.filter(|l| *l > self.timeout) {
                request = request.timeout(lasting);
            }
            let request = request
                .build()
                .map_err(|e| ServiceNowError::InvalidRequest(format!("{endpoint}: {e}")))?;
            let reply = execute_raw(
                &self.ctx(),
                call.op,
                &call.method,
                &endpoint,
                request,
                fence.filter(|_| is_write(&call.method)),
            )
            .await?;
            if reply.status == StatusCode::UNAUTHORIZED && !renewed && self.auth.renewable() {
                renewed = true;
                debug!(%endpoint, "401 from the instance, renewing the token once");
                self.auth
                    .after_unauthorized(credential.generation, &self.ctx())
                    .await?;
                continue;
            }
            return Ok(reply);
        }
    }

    /// Renews the access token whatever its state: for a 401 that reached us inside an
    /// answer (a Batch API item) rather than as the answer's own status.
    pub async fn renew_token(&self) -> Result<(), ServiceNowError> {
        if !self.auth.renewable() {
            return Ok(());
        }
        self.auth.after_unauthorized(u64::MAX, &self.ctx()).await
    }
}

fn unreachable_missing<T>(call: &Call<'_>) -> Result<T, ServiceNowError> {
    Err(ServiceNowError::InstanceUnavailable {
        method: call.method.clone(),
        endpoint: call.endpoint(),
        reason: "HTTP 200 with `result: null`".into(),
    })
}

/// Decodes a 2xx body's `result`; `result: null` is an unavailable instance, not a success.
pub(crate) fn decode(
    method: &Method,
    endpoint: &str,
    reply: &Reply,
) -> Result<ResultBody, ServiceNowError> {
    match wire::decode_result(&reply.body) {
        Ok(ResultBody::Missing) => Err(ServiceNowError::InstanceUnavailable {
            method: method.clone(),
            endpoint: endpoint.to_owned(),
            reason: format!("HTTP {} with `result: null`", reply.status.as_u16()),
        }),
        Ok(body) => Ok(body),
        Err(message) => Err(ServiceNowError::Decode {
            method: method.clone(),
            endpoint: endpoint.to_owned(),
            message,
        }),
    }
}

/// Passes a 2xx JSON answer through; anything else becomes the matching error.
pub(crate) fn success(
    method: &Method,
    endpoint: &str,
    reply: Reply,
) -> Result<Reply, ServiceNowError> {
    if reply.status.is_success() && !reply.is_html() {
        Ok(reply)
    } else {
        Err(error_from(method, endpoint, &reply))
    }
}

/// The error for an answer that is not a usable success.
pub(crate) fn error_from(method: &Method, endpoint: &str, reply: &Reply) -> ServiceNowError {
    let unavailable = |reason: String| ServiceNowError::InstanceUnavailable {
        method: method.clone(),
        endpoint: endpoint.to_owned(),
        reason,
    };
    if reply.status.is_redirection() {
        let to = reply
            .header(LOCATION.as_str())
            .and_then(|l| Url::parse(l).ok())
            .map(|u| format!(" to {}{}", u.host_str().unwrap_or(""), u.path()))
            .unwrap_or_default();
        return unavailable(format!("redirected (HTTP {}){to}", reply.status.as_u16()));
    }
    if reply.is_html() {
        let page = html_title(&reply.body)
            .map(|t| format!(" \"{t}\""))
            .unwrap_or_default();
        if reply.status.is_success() {
            return unavailable(format!(
                "HTTP {} with an HTML page{page} instead of JSON",
                reply.status.as_u16()
            ));
        }
        return ServiceNowError::Status {
            status: reply.status.as_u16(),
            method: method.clone(),
            endpoint: endpoint.to_owned(),
            message: html_title(&reply.body).or_else(|| Some("HTML error page".into())),
            detail: None,
            retry_after: retry_after(&reply.headers),
        };
    }
    let (message, detail) = wire::error_message(&reply.body);
    ServiceNowError::Status {
        status: reply.status.as_u16(),
        method: method.clone(),
        endpoint: endpoint.to_owned(),
        message,
        detail,
        retry_after: retry_after(&reply.headers),
    }
}

fn html_title(body: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(&body[..body.len().min(64 * 1024)]);
    let lower = text.to_ascii_lowercase();
    let start = lower.find("<title")?;
    let open_end = start + lower[start..].find('>')? + 1;
    let close = open_end + lower[open_end..].find("</title")?;
    let title: String = text[open_end..close]
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    (!title.is_empty()).then(|| title.chars().take(120).collect())
}

fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    headers
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| parse_retry_after(v, chrono::Utc::now()))
}

/// Sends one built request under flow control, records metrics, reads the whole body, and
/// starts the shared pause on a 429. Used for API calls and token requests alike.
///
/// The request's own timeout, when it has one, replaces the client's: a write behind a fence
/// is cut to what the fence grants, and must be granted at least the client's timeout.
pub(crate) async fn execute_raw(
    ctx: &Ctx<'_>,
    op: &'static str,
    method: &Method,
    endpoint: &str,
    mut request: reqwest::Request,
    fence: Option<&dyn WriteFence>,
) -> Result<Reply, ServiceNowError> {
    let Ctx { http, flow, .. } = *ctx;
    let mut timeout = request.timeout().copied().unwrap_or(ctx.timeout);
    let _slot = flow.acquire().await;
    // Last thing before sending: every wait above may have outlasted the caller's right to
    // write.
    if let Some(fence) = fence {
        match fence.admit(ctx.timeout).await {
            Ok(granted) if granted < timeout => {
                timeout = granted;
                *request.timeout_mut() = Some(granted);
            }
            Ok(_) => {}
            Err(reason) => {
                metrics::counter!("servicenow_requests_total", "operation" => op, "status" => "fenced")
                    .increment(1);
                return Err(ServiceNowError::Fenced {
                    method: method.clone(),
                    endpoint: endpoint.to_owned(),
                    reason,
                });
            }
        }
    }
    let started = Instant::now();
    let outcome = async {
        let response = http.execute(request).await.map_err(|e| (e, false))?;
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.bytes().await.map_err(|e| (e, true))?.to_vec();
        Ok::<_, (reqwest::Error, bool)>(Reply {
            status,
            headers,
            body,
        })
    }
    .await;
    let elapsed = started.elapsed();
    metrics::histogram!("servicenow_request_duration_seconds", "operation" => op)
        .record(elapsed.as_secs_f64());
    match outcome {
        Ok(reply) => {
            let code = reply.status.as_u16();
            // An HTML page (a hibernating instance, a maintenance or login page) is not the
            // API answering, whatever its status: its own outcome, and the instance unavailable.
            let html = reply
                .headers
                .get(reqwest::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.trim_start().to_ascii_lowercase().starts_with("text/html"));
            let label = if html {
                "html".to_owned()
            } else {
                code.to_string()
            };
            metrics::counter!("servicenow_requests_total", "operation" => op, "status" => label)
                .increment(1);
            let available = !html && !reply.status.is_server_error();
            metrics::gauge!("servicenow_instance_available").set(if available { 1.0 } else { 0.0 });
            debug!(op, %method, endpoint, status = code, elapsed_ms = elapsed.as_millis() as u64, "ServiceNow answered");
            if reply.status == StatusCode::TOO_MANY_REQUESTS {
                let after = retry_after(&reply.headers).unwrap_or(DEFAULT_PAUSE);
                warn!(op, %method, endpoint, retry_after_ms = after.as_millis() as u64, "429 from ServiceNow, pausing every request to the instance");
                flow.pause(after);
            }
            Ok(reply)
        }
        Err((e, got_headers)) => {
            let label = if e.is_timeout() {
                "timeout"
            } else {
                "transport"
            };
            metrics::counter!("servicenow_requests_total", "operation" => op, "status" => label)
                .increment(1);
            metrics::gauge!("servicenow_instance_available").set(0.0);
            Err(transport_error(method, endpoint, timeout, e, got_headers))
        }
    }
}

/// Whether a request can change something on the instance.
fn is_write(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

fn transport_error(
    method: &Method,
    endpoint: &str,
    timeout: Duration,
    e: reqwest::Error,
    got_headers: bool,
) -> ServiceNowError {
    if e.is_timeout() {
        return ServiceNowError::Timeout {
            method: method.clone(),
            endpoint: endpoint.to_owned(),
            after: timeout,
        };
    }
    // Only a failed connect proves the instance never saw the request.
    let sent = got_headers || !e.is_connect();
    // reqwest's own message is generic; the causes below it name refused, reset or DNS.
    let e = e.without_url();
    let mut message = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    ServiceNowError::Transport {
        method: method.clone(),
        endpoint: endpoint.to_owned(),
        message,
        sent,
    }
}
