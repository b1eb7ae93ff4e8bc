//! The emulator's own endpoints under `/sim/`: stats, faults, token revocation and the clock.
//! Not part of ServiceNow: no authentication, no faults, not counted.

use std::time::Duration;

use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use super::error::SnError;
use super::faults::Faults;
use super::{Sim, stats};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Advance {
    #[serde(with = "humantime_serde")]
    advance: Duration,
}

#[derive(Debug, Serialize)]
struct Now {
    now: String,
}

fn json<T: Serialize>(status: StatusCode, body: &T) -> Response {
    let bytes = serde_json::to_vec(body).unwrap_or_default();
    let mut resp = (status, bytes).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

fn parse<T: for<'de> Deserialize<'de>>(body: &[u8]) -> Result<T, SnError> {
    let mut de = serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let at = e.path().to_string();
        SnError::bad_body(format!("Invalid JSON at {at}: {}", e.inner()))
    })
}

/// Serves `/sim/{rest}`.
pub(crate) fn handle(sim: &Sim, method: &Method, rest: &str, body: &[u8]) -> Response {
    let result = match (method.as_str(), rest) {
        ("GET", "stats") => Ok(json(StatusCode::OK, &stats::snapshot(sim))),
        ("GET", "faults") => Ok(json(StatusCode::OK, &sim.faults.get())),
        ("POST", "faults") => parse::<Faults>(body).map(|faults| {
            sim.set_faults(faults);
            json(StatusCode::OK, &sim.faults.get())
        }),
        ("POST", "tokens/revoke") => {
            sim.tokens.revoke_all();
            Ok(StatusCode::NO_CONTENT.into_response())
        }
        ("POST", "clock") => parse::<Advance>(body).map(|a| {
            sim.clock.advance(a.advance);
            json(
                StatusCode::OK,
                &Now {
                    now: sim.clock.now_text(),
                },
            )
        }),
        ("GET", "clock") => Ok(json(
            StatusCode::OK,
            &Now {
                now: sim.clock.now_text(),
            },
        )),
        _ => Err(SnError::no_resource()),
    };
    result.unwrap_or_else(IntoResponse::into_response)
}
