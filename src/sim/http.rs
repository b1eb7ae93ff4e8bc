//! The request pipeline: routing by path, request counting, faults, authentication, the
//! rate-limit rule, the handler, then the headers every answer of a real instance carries.
//! Decides nothing about records; `table_api`, `auth` and `batch` do the work.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::error::SnError;
use super::faults::{AfterCommit, Pre};
use super::net::{ConnCtl, ConnInfo};
use super::{Sim, auth, batch, control, table_api};

/// The JSON content type a real instance sends.
pub(crate) const JSON: &str = "application/json;charset=UTF-8";

/// The largest request body accepted (`glide.rest.max_content_length` is 10 MB).
const MAX_BODY: usize = 10 * 1024 * 1024;

/// The hibernating developer instance's answer: an HTML page with status 200. The wording is
/// believed, not captured; what matters to clients is HTML where JSON was expected.
const HIBERNATING: &str = "<!DOCTYPE html><html><head><title>Instance Hibernating page</title></head>\
<body><div class=\"instance-hibernating\"><h1>Your instance is hibernating</h1>\
<p>This instance has been put to sleep because it was not used.</p>\
<p>Sign in to the developer portal to wake it up.</p></div></body></html>";

/// A Table API path: `/api/now[/v1|/v2]/table/{table}[/{sys_id}]`.
#[derive(Debug, Clone)]
pub(crate) struct TableRoute {
    /// "v1", "v2", or "" for the unversioned path.
    pub version: &'static str,
    pub table: String,
    pub sys_id: Option<String>,
}

#[derive(Debug, Clone)]
enum Route {
    Table(TableRoute),
    Batch,
    Token,
    Control(String),
    Unknown,
}

fn decode(segment: &str) -> String {
    percent_encoding::percent_decode_str(segment)
        .decode_utf8_lossy()
        .into_owned()
}

fn route(path: &str) -> Route {
    if path == "/oauth_token.do" {
        return Route::Token;
    }
    if let Some(rest) = path.strip_prefix("/sim/") {
        return Route::Control(rest.to_owned());
    }
    if path == "/api/now/v1/batch" || path == "/api/now/batch" {
        return Route::Batch;
    }
    let Some(rest) = path.strip_prefix("/api/now/") else {
        return Route::Unknown;
    };
    let (version, rest) = match rest.split_once('/') {
        Some(("v1", r)) => ("v1", r),
        Some(("v2", r)) => ("v2", r),
        _ => ("", rest),
    };
    let Some(rest) = rest.strip_prefix("table/") else {
        return Route::Unknown;
    };
    let mut segments = rest.split('/');
    let table = segments.next().unwrap_or("");
    let sys_id = segments.next().filter(|s| !s.is_empty());
    if table.is_empty() || segments.any(|s| !s.is_empty()) {
        return Route::Unknown;
    }
    Route::Table(TableRoute {
        version,
        table: decode(table),
        sys_id: sys_id.map(decode),
    })
}

impl Route {
    /// The key requests are counted under, and the path faults are matched against.
    fn template_and_fault_path(&self, path: &str) -> (String, String) {
        match self {
            Route::Table(t) => {
                let v = if t.version.is_empty() {
                    String::new()
                } else {
                    format!("{}/", t.version)
                };
                let id = if t.sys_id.is_some() { "/{sys_id}" } else { "" };
                let fault_path = match &t.sys_id {
                    Some(s) => format!("/api/now/table/{}/{s}", t.table),
                    None => format!("/api/now/table/{}", t.table),
                };
                (format!("/api/now/{v}table/{}{id}", t.table), fault_path)
            }
            Route::Batch | Route::Token => (path.to_owned(), path.to_owned()),
            Route::Control(_) | Route::Unknown => ("{unmatched}".to_owned(), path.to_owned()),
        }
    }
}

/// The router: one entry point, so every path and method gets ServiceNow's answers.
pub(crate) fn router(sim: Arc<Sim>) -> Router {
    Router::new().fallback(entry).with_state(sim)
}

async fn entry(
    State(sim): State<Arc<Sim>>,
    ConnectInfo(conn): ConnectInfo<ConnInfo>,
    req: Request,
) -> Response {
    serve(sim, conn.ctl, req).await
}

/// The instance URL links are built on: the configured one, else the request's Host.
pub(crate) fn base_url(sim: &Sim, headers: &HeaderMap) -> String {
    if let Some(u) = &sim.config.public_url {
        return u.as_str().to_owned();
    }
    match headers.get(header::HOST).and_then(|h| h.to_str().ok()) {
        Some(host) if !host.is_empty() => format!("http://{host}/"),
        _ => sim.bound.as_str().to_owned(),
    }
}

/// Waits until the emulator stops: the request never gets its answer.
async fn hang(sim: &Sim) -> Response {
    sim.shutdown.cancelled().await;
    SnError::unavailable().into_response()
}

fn too_many(retry_after_secs: u64) -> Response {
    let mut resp = SnError::too_many_requests().into_response();
    resp.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
    resp
}

/// The `X-RateLimit-*` headers of a request a rule counted.
fn rate_headers(resp: &mut Response, limit: Option<u64>, reset: i64, rule: &str) {
    let h = resp.headers_mut();
    if let Some(limit) = limit {
        h.insert("X-RateLimit-Limit", HeaderValue::from(limit));
    }
    h.insert("X-RateLimit-Reset", HeaderValue::from(reset));
    if let Ok(v) = HeaderValue::from_str(rule) {
        h.insert("X-RateLimit-Rule", v);
    }
}

/// Marks a request the Batch API made from one of its items, so the counts can tell items
/// from requests on the wire.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BatchItem;

/// Serves one request; the Batch API calls it again for each of its items.
pub(crate) fn serve(
    sim: Arc<Sim>,
    ctl: Arc<ConnCtl>,
    req: Request,
) -> Pin<Box<dyn Future<Output = Response> + Send>> {
    Box::pin(async move {
        let (parts, body) = req.into_parts();
        let path = parts.uri.path().to_owned();
        let route = route(&path);
        if let Route::Control(rest) = &route {
            let body = to_bytes(body, MAX_BODY).await.unwrap_or_default();
            return control::handle(&sim, &parts.method, rest, &body);
        }
        let (template, fault_path) = route.template_and_fault_path(&path);
        let table = match &route {
            Route::Table(t) => Some(t.table.as_str()),
            _ => None,
        };
        let batch_item = parts.extensions.get::<BatchItem>().is_some();
        sim.stats
            .request(parts.method.as_str(), &template, table, batch_item);
        let after_commit =
            match sim
                .faults
                .before(parts.method.as_str(), &fault_path, sim.clock.now())
            {
                Pre::Hibernate => {
                    sim.stats.fault("hibernate");
                    let mut resp = (StatusCode::OK, HIBERNATING).into_response();
                    resp.headers_mut().insert(
                        header::CONTENT_TYPE,
                        HeaderValue::from_static("text/html;charset=UTF-8"),
                    );
                    return finish(&sim, resp);
                }
                Pre::TooMany {
                    retry_after_secs,
                    rule,
                    limit,
                } => {
                    sim.stats.fault("too_many_requests");
                    let mut resp = too_many(retry_after_secs);
                    let reset = sim.clock.unix() + i64::try_from(retry_after_secs).unwrap_or(0);
                    rate_headers(&mut resp, limit, reset, &rule);
                    return finish(&sim, resp);
                }
                Pre::Fail { status } => {
                    sim.stats.fault(&format!("error_{status}"));
                    let err = if status == 503 {
                        SnError::unavailable()
                    } else if status == 403 {
                        // A missing role: the ACL refusal a real instance sends.
                        SnError::api_acl()
                    } else {
                        SnError {
                            status: StatusCode::from_u16(status)
                                .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
                            ..SnError::internal()
                        }
                    };
                    return finish(&sim, err.into_response());
                }
                Pre::Hang => {
                    sim.stats.fault("hang");
                    return hang(&sim).await;
                }
                Pre::Reset => {
                    sim.stats.fault("reset");
                    ctl.reset();
                    return Response::new(Body::empty());
                }
                Pre::Serve {
                    delay,
                    after_commit: then,
                    revoke_tokens,
                } => {
                    if revoke_tokens {
                        sim.stats.fault("token_revocation");
                        sim.tokens.revoke_all();
                    }
                    if !delay.is_zero() {
                        sim.stats.fault("latency");
                        tokio::time::sleep(delay).await;
                    }
                    then
                }
            };
        let body = match to_bytes(body, MAX_BODY).await {
            Ok(b) => b,
            Err(_) => {
                let err = SnError::bad_body("The request body is larger than the instance accepts");
                return finish(&sim, err.into_response());
            }
        };
        let resp = match &route {
            Route::Token if parts.method == Method::POST => {
                auth::token_endpoint(&sim, &parts.headers, &body)
            }
            Route::Token => SnError::method_not_allowed(parts.method.as_str()).into_response(),
            Route::Table(_) | Route::Batch => match auth::authenticate(&sim, &parts.headers) {
                Err(e) => e.into_response(),
                Ok(user) => {
                    let rate = sim.faults.rate_limit(&user, sim.clock.unix());
                    let mut resp = if rate.as_ref().is_some_and(|r| r.exceeded) {
                        sim.stats.fault("rate_limit");
                        let reset = rate.as_ref().map(|r| r.reset).unwrap_or(0);
                        too_many(u64::try_from(reset - sim.clock.unix()).unwrap_or(1).max(1))
                    } else if let Route::Table(t) = &route {
                        table_api::handle(&sim, t, &parts, &body, &user)
                    } else {
                        batch::handle(&sim, &ctl, &parts, &body).await
                    };
                    if let Some(r) = rate {
                        rate_headers(&mut resp, Some(r.limit), r.reset, &r.rule);
                    }
                    resp
                }
            },
            Route::Control(_) | Route::Unknown => SnError::no_resource().into_response(),
        };
        match after_commit {
            Some(AfterCommit::Error) => {
                sim.stats.fault("commit_then_fail");
                finish(&sim, SnError::internal().into_response())
            }
            Some(AfterCommit::Hang) => {
                sim.stats.fault("commit_then_fail");
                hang(&sim).await
            }
            None => finish(&sim, resp),
        }
    })
}

/// Adds the headers a real instance sends with every answer, and counts the answer.
fn finish(sim: &Sim, mut resp: Response) -> Response {
    let status = resp.status();
    sim.stats.response(status.as_u16());
    let h = resp.headers_mut();
    h.insert(header::SERVER, HeaderValue::from_static("ServiceNow"));
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-cache,no-store,must-revalidate,max-age=-1"),
    );
    h.insert(
        header::PRAGMA,
        HeaderValue::from_static("no-store,no-cache"),
    );
    h.insert(header::EXPIRES, HeaderValue::from_static("0"));
    h.insert(
        "X-Content-Type-Options",
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        "Server-Timing",
        HeaderValue::from_static("sem_wait;dur=0, sesh_wait;dur=0"),
    );
    let txn = format!("{:012x}", fastrand::u64(..) & 0xffff_ffff_ffff);
    if let Ok(v) = HeaderValue::from_str(&txn) {
        h.insert("X-Transaction-ID", v);
    }
    let json = h
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if status != StatusCode::UNAUTHORIZED && (json || status == StatusCode::NO_CONTENT) {
        h.insert("X-Is-Logged-In", HeaderValue::from_static("true"));
    }
    resp
}
