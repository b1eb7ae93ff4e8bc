//! ServiceNow's error envelope, `{"error":{"message","detail"},"status":"failure"}`, and the
//! errors the emulator answers with. Where the real wording is unconfirmed the believed text is
//! used and marked so; nothing here decides when an error happens.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// An error response as a real instance sends it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SnError {
    pub status: StatusCode,
    pub message: String,
    /// `null` in the body when absent.
    pub detail: Option<String>,
}

impl SnError {
    pub(crate) fn new(
        status: StatusCode,
        message: impl Into<String>,
        detail: Option<String>,
    ) -> Self {
        Self {
            status,
            message: message.into(),
            detail,
        }
    }

    /// 401 with no or bad credentials (recorded, newer wording).
    pub(crate) fn not_authenticated() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "User is not authenticated",
            Some("Required to provide Auth information".into()),
        )
    }

    /// 404. Open question 1: the commonly cited text, not captured.
    pub(crate) fn not_found() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "No Record found",
            Some("Record doesn't exist or ACL restricts the record retrieval".into()),
        )
    }

    /// 400 for a table the instance does not have. Open question 1: believed wording.
    pub(crate) fn invalid_table(name: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            format!("Invalid table {name}"),
            None,
        )
    }

    /// 400: the URI matches no API (KB1479016).
    pub(crate) fn no_resource() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "Requested URI does not represent any resource",
            None,
        )
    }

    pub(crate) fn method_not_allowed(method: &str) -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "Method not Supported",
            Some(format!(
                "HTTP method {method} is not supported by this resource"
            )),
        )
    }

    pub(crate) fn bad_request(message: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message, Some(detail.into()))
    }

    /// 400 for a body that is not one JSON record.
    pub(crate) fn bad_body(detail: impl Into<String>) -> Self {
        Self::bad_request("Exception while reading request", detail)
    }

    /// 403 for a table the account may not write (section 1.7's ACL example).
    pub(crate) fn api_acl() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "User Not Authorized",
            Some("Failed API level ACL Validation".into()),
        )
    }

    /// 403 for a record the account may not change (closed incidents for non-admins).
    pub(crate) fn update_acl() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "Operation Failed",
            Some("ACL Exception Update Failed due to security constraints".into()),
        )
    }

    /// 403 for a data-policy violation. Open question 2: the status follows the REST code
    /// list ("business rule or data policy constraints"); the detail is the third-party quote.
    pub(crate) fn data_policy(labels: &[&str]) -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "Operation Failed",
            Some(format!(
                "Data Policy Exception: \n\tThe following fields are mandatory: {}\n",
                labels.join(", ")
            )),
        )
    }

    pub(crate) fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Internal server error",
            Some("The transaction failed on the instance".into()),
        )
    }

    pub(crate) fn unavailable() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "Service Unavailable",
            Some("The instance is temporarily unable to handle the request".into()),
        )
    }

    /// 429. Open question 3: the exact strings are not captured; these are believed.
    pub(crate) fn too_many_requests() -> Self {
        Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "Too Many Requests",
            Some(
                "Rate limit exceeded: the request was rejected, retry after the indicated time"
                    .into(),
            ),
        )
    }

    pub(crate) fn not_acceptable() -> Self {
        Self::new(
            StatusCode::NOT_ACCEPTABLE,
            "Not Acceptable",
            Some("The endpoint does not support the response format in the Accept header".into()),
        )
    }

    pub(crate) fn unsupported_media(content_type: &str) -> Self {
        Self::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Unsupported Media Type",
            Some(format!(
                "The endpoint does not support the request format {content_type}"
            )),
        )
    }

    /// The body bytes.
    pub(crate) fn body(&self) -> Vec<u8> {
        let v = json!({
            "error": {"message": self.message, "detail": self.detail},
            "status": "failure",
        });
        // Invariant: a json! value of strings always serializes.
        serde_json::to_vec(&v).unwrap_or_default()
    }
}

impl IntoResponse for SnError {
    fn into_response(self) -> Response {
        let mut resp = (self.status, self.body()).into_response();
        let h = resp.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(super::http::JSON),
        );
        if self.status == StatusCode::UNAUTHORIZED {
            h.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"Service-now\""),
            );
        }
        resp
    }
}
