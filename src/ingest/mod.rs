//! Input formats to findings: the generic finding JSON, the Oort failing-check webhook
//! event and the approval request.
//!
//! Pure parsing: bytes in, [`Finding`]s or an error naming the field path out.
//! No IO, no clock (every format carries its own time), no knowledge of ServiceNow.

mod approval;
mod generic;
pub mod limits;
mod oort;

/// The bodies of the ingest endpoints, for the OpenAPI document.
pub(crate) mod schema {
    pub(crate) use super::approval::Raw as ApprovalRequest;
    pub(crate) use super::generic::Raw as GenericFinding;
    pub(crate) use super::oort::Envelope as OortEvent;
}

pub use oort::is_test_event as is_oort_test_event;
use serde::de::DeserializeOwned;

use crate::domain::{Finding, Severity, spelled};

spelled! {
    /// The formats snowsync accepts.
    pub enum InputFormat("input format") {
        /// The documented generic finding (field by field in `generic.rs`).
        Generic = "generic",
        /// The Oort failing-check event (an EventBridge envelope); one finding per failing user.
        Oort = "oort",
        /// An application approval request; one finding per request.
        Approval = "approval",
    }
}

/// Why a body is not a finding: bad JSON, or a field that is missing or wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IngestError {
    #[error("invalid JSON at line {line} column {column}: {message}")]
    Syntax {
        line: usize,
        column: usize,
        message: String,
    },
    /// `path` is the field path, e.g. `detail.usersFailing[2]`.
    #[error("{path}: {message}")]
    Field { path: String, message: String },
    #[error(
        "unrecognised input: expected a generic finding, an Oort event (with `detail`) or an approval request (with `request_id`)"
    )]
    UnknownFormat,
}

impl IngestError {
    pub(crate) fn field(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Field {
            path: path.into(),
            message: message.into(),
        }
    }
}

/// Parses `body` in `format` into findings (several for an Oort event failing several users).
pub fn parse(format: InputFormat, body: &[u8]) -> Result<Vec<Finding>, IngestError> {
    match format {
        InputFormat::Generic => generic::parse(body).map(|f| vec![f]),
        InputFormat::Oort => oort::parse(body),
        InputFormat::Approval => approval::parse(body).map(|f| vec![f]),
    }
}

/// Recognises the format of one JSON document (a JSONL line) and parses it.
///
/// An object with `detail` is an Oort event, one with `request_id` at the top an approval
/// request, anything else with `source` a generic finding.
pub fn detect_and_parse(line: &[u8]) -> Result<Vec<Finding>, IngestError> {
    let format = detect(line)?;
    parse(format, line)
}

/// Recognises the format of one JSON document without parsing it into findings.
pub fn detect(body: &[u8]) -> Result<InputFormat, IngestError> {
    let value: serde_json::Value = serde_json::from_slice(body).map_err(syntax)?;
    let Some(object) = value.as_object() else {
        return Err(IngestError::field(
            "(body)",
            format!("expected a JSON object, found {}", kind_of(&value)),
        ));
    };
    if object.contains_key("detail") {
        Ok(InputFormat::Oort)
    } else if object.contains_key("request_id") {
        Ok(InputFormat::Approval)
    } else if object.contains_key("source") {
        Ok(InputFormat::Generic)
    } else {
        Err(IngestError::UnknownFormat)
    }
}

/// Deserializes `body`, reporting the path of the field that does not fit.
///
/// The body must be a JSON object, and so must each member named in `objects` when it is
/// present (serde would otherwise read an array positionally into a struct); every string
/// in it must pass [`limits::check_document`].
pub(crate) fn from_json<T: DeserializeOwned>(
    body: &[u8],
    objects: &[&str],
) -> Result<T, IngestError> {
    let value: serde_json::Value = serde_json::from_slice(body).map_err(syntax)?;
    let Some(map) = value.as_object() else {
        return Err(IngestError::field(
            "(body)",
            format!("expected a JSON object, found {}", kind_of(&value)),
        ));
    };
    for name in objects {
        match map.get(*name) {
            None | Some(serde_json::Value::Null | serde_json::Value::Object(_)) => {}
            Some(other) => {
                return Err(IngestError::field(
                    *name,
                    format!("expected an object, found {}", kind_of(other)),
                ));
            }
        }
    }
    limits::check_document(&value)?;
    serde_path_to_error::deserialize(value).map_err(|err| {
        let path = err.path().to_string();
        field_error(&path, err.inner())
    })
}

/// How a JSON value is named in a message.
fn kind_of(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

fn syntax(err: serde_json::Error) -> IngestError {
    IngestError::Syntax {
        line: err.line(),
        column: err.column(),
        message: bare_message(&err),
    }
}

/// serde_json's message without its ` at line L column C` suffix.
fn bare_message(err: &serde_json::Error) -> String {
    let text = err.to_string();
    let suffix = format!(" at line {} column {}", err.line(), err.column());
    text.strip_suffix(&suffix).unwrap_or(&text).to_owned()
}

/// Rewrites serde's messages so they lead with what was expected, at the right path.
fn field_error(path: &str, err: &serde_json::Error) -> IngestError {
    let message = bare_message(err);
    let at = if path == "." || path.is_empty() {
        "(body)"
    } else {
        path
    };
    let join = |name: &str| {
        if path == "." || path.is_empty() {
            name.to_owned()
        } else if path == name || path.ends_with(&format!(".{name}")) {
            // serde_path_to_error already ends the path with an unknown key.
            path.to_owned()
        } else {
            format!("{path}.{name}")
        }
    };
    if let Some(name) = quoted_after(&message, "missing field `") {
        return IngestError::field(join(name), "is required");
    }
    if let Some(name) = quoted_after(&message, "unknown field `") {
        let expected = message
            .split_once(", expected ")
            .map(|(_, e)| format!(" (expected {e})"))
            .unwrap_or_default();
        return IngestError::field(join(name), format!("unknown field{expected}"));
    }
    if let Some(rest) = message.strip_prefix("invalid type: ")
        && let Some((found, expected)) = rest.split_once(", expected ")
    {
        return IngestError::field(at, format!("expected {expected}, found {found}"));
    }
    IngestError::field(at, message)
}

fn quoted_after<'a>(message: &'a str, prefix: &str) -> Option<&'a str> {
    message.strip_prefix(prefix)?.split('`').next()
}

/// Parses a severity field, naming `path` when it is not one.
fn severity(path: &str, text: &str) -> Result<Severity, IngestError> {
    Severity::parse(text).ok_or_else(|| {
        IngestError::field(
            path,
            format!("unknown severity `{text}` (expected info, low, medium, high or critical)"),
        )
    })
}

/// Requires a non-blank string.
fn non_empty(path: &str, text: String) -> Result<String, IngestError> {
    if text.trim().is_empty() {
        Err(IngestError::field(path, "must not be empty"))
    } else {
        Ok(text)
    }
}
