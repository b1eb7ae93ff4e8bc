//! The operator's console under `/ui`: server-rendered HTML from compile-time templates
//! (maud), no script, every asset compiled into the binary. It reads through
//! `store::queries` and acts through `admin` as the `/v1` admin endpoints do; signing in
//! takes an admin key (`admin.api_keys`), and every POST carries the session's CSRF token.
//!
//! Pages: the overview (`overview.rs`), findings (`findings.rs`), the outbox with its
//! retries (`outbox.rs`), the mappings with the tester (`mappings.rs`) and the sign-in
//! (`sign_in.rs`); `layout.rs` is the page shell and `session.rs` the sessions.

mod findings;
mod layout;
mod mappings;
mod outbox;
mod overview;
mod session;
mod sign_in;

pub use session::Sessions;

use axum::Router;
use axum::extract::{FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;

use crate::api::AppState;

const CSS: &str = include_str!("assets/console.css");
const FAVICON: &str = include_str!("assets/favicon.svg");

/// The page shown after signing in.
pub const HOME: &str = "/ui";

/// The console's routes, nested under `/ui`.
pub fn router(_state: AppState) -> Router<AppState> {
    Router::new()
        .route("/", get(overview::page))
        .route("/findings", get(findings::list))
        .route("/findings/{id}", get(findings::show))
        .route("/outbox", get(outbox::list))
        .route("/outbox/{id}", get(outbox::show))
        .route(
            "/outbox/{id}/retry",
            get(outbox::confirm_one).post(outbox::retry_one),
        )
        .route(
            "/outbox/retry-dead",
            get(outbox::confirm_dead).post(outbox::retry_dead),
        )
        .route("/mappings", get(mappings::page).post(mappings::test))
        .route("/login", get(sign_in::form).post(sign_in::submit))
        .route("/logout", axum::routing::post(sign_in::sign_out))
        .route("/assets/console.css", get(css))
        .route("/assets/favicon.svg", get(favicon))
        .layer(middleware::from_fn(security_headers))
}

async fn css() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], CSS)
}

async fn favicon() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "image/svg+xml")], FAVICON)
}

/// No script runs, nothing loads from elsewhere, no page is framed or cached: the console
/// shows the outbox's payloads, which hold people's names.
async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    for (name, value) in [
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; \
             frame-ancestors 'none'; base-uri 'none'",
        ),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "same-origin"),
        (header::CACHE_CONTROL, "no-store"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
}

/// A signed-in operator: every page but the sign-in takes one. Without a signed-in
/// session the request is sent to the sign-in form.
pub struct Operator {
    pub session: session::Current,
}

impl FromRequestParts<AppState> for Operator {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        match state.sessions.of_request(&parts.headers) {
            Some(session) if session.signed_in => Ok(Self { session }),
            _ => Err(Redirect::to("/ui/login").into_response()),
        }
    }
}

impl Operator {
    /// Refuses a form whose CSRF token is not this session's.
    pub fn check_csrf(&self, presented: &str) -> Result<(), UiError> {
        if self.session.csrf_matches(presented) {
            Ok(())
        } else {
            Err(UiError::Forbidden)
        }
    }
}

/// A page that could not be shown, as a page.
#[derive(Debug)]
pub enum UiError {
    BadRequest(String),
    NotFound(String),
    /// The form's CSRF token is missing or not the session's.
    Forbidden,
    Db(sea_orm::DbErr),
}

impl From<sea_orm::DbErr> for UiError {
    fn from(e: sea_orm::DbErr) -> Self {
        Self::Db(e)
    }
}

impl From<crate::api::ApiError> for UiError {
    fn from(e: crate::api::ApiError) -> Self {
        Self::BadRequest(e.to_string())
    }
}

impl IntoResponse for UiError {
    fn into_response(self) -> Response {
        let (status, message) = match self {
            Self::BadRequest(m) => (StatusCode::BAD_REQUEST, m),
            Self::NotFound(m) => (StatusCode::NOT_FOUND, m),
            Self::Forbidden => (
                StatusCode::FORBIDDEN,
                "the form is stale or was not sent from this console (CSRF token mismatch); \
                 reload the page and try again"
                    .to_owned(),
            ),
            Self::Db(e) if crate::store::is_unavailable(&e) => {
                tracing::warn!(error = %e, "console: database unavailable");
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "the database is unavailable; try again in a few seconds".to_owned(),
                )
            }
            Self::Db(e) => {
                tracing::error!(error = %e, "console: database error");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "the database failed; see the service's log".to_owned(),
                )
            }
        };
        let title = status.canonical_reason().unwrap_or("Error");
        (
            status,
            layout::bare(title, maud::html! { p.error { (message) } }),
        )
            .into_response()
    }
}
