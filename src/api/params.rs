//! Request parameters outside the body: the `{id}` of a path and the pairs of a query
//! string. Every bad parameter is an `ApiError::BadRequest` naming it, never axum's
//! plain-text rejection.

use std::collections::BTreeMap;

use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;

use super::ApiError;

/// The numeric `{id}` of a path such as `/v1/findings/{id}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PathId(pub i64);

impl<S: Send + Sync> FromRequestParts<S> for PathId {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Path(text) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|rejection| bad("id", rejection.body_text()))?;
        parse_id(&text).map(Self)
    }
}

fn parse_id(text: &str) -> Result<i64, ApiError> {
    text.parse()
        .map_err(|_| bad("id", format!("expected an integer id, got `{text}`")))
}

/// The parameters of a query string by name, each given at most once, each one of
/// `known`; an empty value counts as not given.
pub fn query_pairs(
    query: Option<&str>,
    known: &[&str],
) -> Result<BTreeMap<String, String>, ApiError> {
    let mut pairs = BTreeMap::new();
    for (name, value) in url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        if !known.contains(&name.as_ref()) {
            return Err(bad(
                &name,
                format!("unknown parameter, expected one of {}", known.join(", ")),
            ));
        }
        if pairs.contains_key(name.as_ref()) {
            return Err(bad(&name, "given more than once".to_owned()));
        }
        // PostgreSQL cannot compare with a NUL, SQLite can: refuse it on both alike.
        if value.contains('\0') {
            return Err(bad(&name, "contains a NUL character (%00)".to_owned()));
        }
        pairs.insert(name.into_owned(), value.into_owned());
    }
    pairs.retain(|_, value| !value.is_empty());
    Ok(pairs)
}

/// A 400 naming the parameter `name`.
pub fn bad(name: &str, message: String) -> ApiError {
    ApiError::BadRequest {
        field: name.to_owned(),
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field_of(result: Result<impl std::fmt::Debug, ApiError>) -> String {
        match result {
            Err(ApiError::BadRequest { field, .. }) => field,
            other => panic!("expected a 400, got {other:?}"),
        }
    }

    #[test]
    fn an_id_is_an_integer() {
        assert_eq!(parse_id("42").ok(), Some(42));
        for text in ["abc", "4.2", "", "99999999999999999999"] {
            assert_eq!(field_of(parse_id(text)), "id", "{text}");
        }
    }

    #[test]
    fn query_pairs_are_known_single_and_empty_means_absent() {
        let known = &["status", "limit"];
        let pairs = query_pairs(Some("status=open&limit="), known).expect("pairs");
        assert_eq!(pairs.get("status").map(String::as_str), Some("open"));
        assert!(!pairs.contains_key("limit"));
        assert!(query_pairs(None, known).expect("none").is_empty());
        assert_eq!(field_of(query_pairs(Some("state=open"), known)), "state");
        assert_eq!(
            field_of(query_pairs(Some("limit=1&limit=2"), known)),
            "limit"
        );
        assert_eq!(field_of(query_pairs(Some("status=a%00b"), known)), "status");
        let decoded = query_pairs(Some("status=a%20b+c"), known).expect("pairs");
        assert_eq!(decoded["status"], "a b c");
    }
}
