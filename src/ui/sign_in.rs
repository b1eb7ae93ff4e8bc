//! Signing in with an admin key, and out. The form's POST is CSRF-checked against the
//! anonymous session the form started; a key that is not an admin key signs nobody in.

use axum::Form;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use serde::Deserialize;

use super::session::{self, Current};
use super::{HOME, Operator, UiError, layout};
use crate::api::AppState;

fn form_page(csrf: &str, problem: Option<&str>) -> Markup {
    layout::bare(
        "Sign in",
        html! {
            div.signin {
                @if let Some(problem) = problem { p.error { (problem) } }
                form method="post" action="/ui/login" {
                    input type="hidden" name="csrf" value=(csrf);
                    label {
                        "Admin API key (admin.api_keys)"
                        input type="password" name="key" id="key" autocomplete="off" required autofocus;
                    }
                    button type="submit" id="sign-in" { "Sign in" }
                }
            }
        },
    )
}

/// The form, with a fresh anonymous session for its CSRF token.
fn fresh_form(state: &AppState, status: StatusCode, problem: Option<&str>) -> Response {
    let session = state.sessions.anonymous();
    (
        status,
        [(
            header::SET_COOKIE,
            session::set_cookie(&session.token, session::anonymous_ttl()),
        )],
        form_page(&session.csrf, problem),
    )
        .into_response()
}

/// `GET /ui/login`: the form; an operator already signed in goes to the overview.
pub async fn form(State(state): State<AppState>, headers: HeaderMap) -> Response {
    match state.sessions.of_request(&headers) {
        Some(s) if s.signed_in => Redirect::to(HOME).into_response(),
        _ => fresh_form(&state, StatusCode::OK, None),
    }
}

#[derive(Deserialize)]
pub struct SignIn {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    key: String,
}

/// `POST /ui/login`: an admin key signs in, under a new session token.
pub async fn submit(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<SignIn>,
) -> Response {
    let Some(anonymous) = state
        .sessions
        .of_request(&headers)
        .filter(|s: &Current| s.csrf_matches(&form.csrf))
    else {
        return fresh_form(
            &state,
            StatusCode::FORBIDDEN,
            Some("The sign-in form expired or was not sent from this console; try again."),
        );
    };
    if !state.keys.is_admin(form.key.trim().as_bytes()) {
        state.sessions.end(&anonymous.token);
        tracing::warn!("console: sign-in refused (not an admin key)");
        return fresh_form(
            &state,
            StatusCode::UNAUTHORIZED,
            Some("That is not an admin key. Admin keys are set in admin.api_keys."),
        );
    }
    let session = state.sessions.sign_in(&anonymous);
    tracing::info!("console: operator signed in");
    (
        StatusCode::SEE_OTHER,
        [
            (
                header::SET_COOKIE,
                session::set_cookie(&session.token, state.sessions.ttl()),
            ),
            (header::LOCATION, HOME.to_owned()),
        ],
    )
        .into_response()
}

#[derive(Deserialize)]
pub struct CsrfOnly {
    #[serde(default)]
    csrf: String,
}

/// `POST /ui/logout`: ends the session.
pub async fn sign_out(
    State(state): State<AppState>,
    operator: Operator,
    Form(form): Form<CsrfOnly>,
) -> Result<Response, UiError> {
    operator.check_csrf(&form.csrf)?;
    state.sessions.end(&operator.session.token);
    Ok((
        StatusCode::SEE_OTHER,
        [
            (header::SET_COOKIE, session::clear_cookie()),
            (header::LOCATION, "/ui/login".to_owned()),
        ],
    )
        .into_response())
}
