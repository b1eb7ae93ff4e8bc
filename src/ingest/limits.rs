//! What a finding's text may hold, checked at ingest so that everything accepted can be
//! stored on either engine and delivered: the limits and character rules below, each
//! refusal naming the field.
//!
//! - No string anywhere in a body (keys included) may hold NUL: PostgreSQL cannot store
//!   it in `text` or `jsonb`, SQLite can, and the same input must get the same answer.
//! - No string may be longer than [`MAX_TEXT`] characters.
//! - Identifiers (the parts of a finding's key, the subject's login and email, the
//!   approval request's id and user) are at most [`MAX_IDENTIFIER`] characters and hold
//!   no control characters (a line break in a login would forge log lines and can never
//!   be looked up in ServiceNow).
//! - A title is at most [`MAX_TITLE`] characters.

use serde_json::Value;

use super::IngestError;

/// The longest identifier, in characters: ServiceNow's `sys_user.user_name` and `email`
/// are 40 and 100 characters by default, so a longer value can name no user anyway.
pub const MAX_IDENTIFIER: usize = 255;

/// The longest title, in characters (a ticket's short description holds 160; the
/// template cuts it, but a title is also a log and API value).
pub const MAX_TITLE: usize = 1_000;

/// The longest string of any other field, in characters (descriptions, attributes).
pub const MAX_TEXT: usize = 65_536;

/// Refuses a document with NUL in any key or string, or a string over [`MAX_TEXT`],
/// naming the first such field by its path (`detail.usersFailing[2]`, `attributes.x`).
pub fn check_document(value: &Value) -> Result<(), IngestError> {
    walk(value, &mut String::new())
}

fn walk(value: &Value, path: &mut String) -> Result<(), IngestError> {
    match value {
        Value::String(text) => check_text(shown(path), text, MAX_TEXT),
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                let len = path.len();
                path.push_str(&format!("[{i}]"));
                walk(item, path)?;
                path.truncate(len);
            }
            Ok(())
        }
        Value::Object(map) => {
            for (key, item) in map {
                let len = path.len();
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(&key.replace('\0', "\\0"));
                if key.contains('\0') {
                    return Err(IngestError::field(path.clone(), NUL));
                }
                walk(item, path)?;
                path.truncate(len);
            }
            Ok(())
        }
        Value::Null | Value::Bool(_) | Value::Number(_) => Ok(()),
    }
}

fn shown(path: &str) -> &str {
    if path.is_empty() { "(body)" } else { path }
}

const NUL: &str = "contains a NUL character (\\u0000), which cannot be stored";

/// No NUL, at most `max` characters.
fn check_text(path: &str, text: &str, max: usize) -> Result<(), IngestError> {
    if text.contains('\0') {
        return Err(IngestError::field(path, NUL));
    }
    // Counting characters only past the byte length that could exceed the limit.
    if text.len() > max && text.chars().count() > max {
        return Err(IngestError::field(
            path,
            format!("is longer than {max} characters"),
        ));
    }
    Ok(())
}

/// An identifier: not blank, at most [`MAX_IDENTIFIER`] characters, no control characters.
pub(super) fn identifier(path: &str, text: String) -> Result<String, IngestError> {
    let text = super::non_empty(path, text)?;
    check_text(path, &text, MAX_IDENTIFIER)?;
    if let Some(c) = text.chars().find(|c| c.is_control()) {
        return Err(IngestError::field(
            path,
            format!(
                "contains the control character {:?}; identifiers are one line of printable text",
                c
            ),
        ));
    }
    Ok(text)
}

/// An optional identifier; see [`identifier`]. A blank one counts as absent.
pub(super) fn optional_identifier(
    path: &str,
    text: Option<String>,
) -> Result<Option<String>, IngestError> {
    match text {
        Some(t) if t.trim().is_empty() => Ok(None),
        Some(t) => identifier(path, t).map(Some),
        None => Ok(None),
    }
}

/// A title: not blank, at most [`MAX_TITLE`] characters.
pub(super) fn title(path: &str, text: String) -> Result<String, IngestError> {
    let text = super::non_empty(path, text)?;
    check_text(path, &text, MAX_TITLE)?;
    Ok(text)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn field_of(result: Result<impl std::fmt::Debug, IngestError>) -> String {
        match result {
            Err(IngestError::Field { path, .. }) => path,
            other => panic!("expected a field error, got {other:?}"),
        }
    }

    #[test]
    fn nul_anywhere_is_refused_by_path() {
        let doc = json!({"a": {"b": ["ok", "x\u{0}y"]}});
        assert_eq!(field_of(check_document(&doc)), "a.b[1]");
        let key = json!({"attributes": {"k\u{0}": 1}});
        assert_eq!(field_of(check_document(&key)), "attributes.k\\0");
        assert!(check_document(&json!({"a": ["fine", 1, null]})).is_ok());
    }

    #[test]
    fn a_string_over_the_text_limit_is_refused() {
        let doc = json!({"description": ["x".repeat(MAX_TEXT + 1)]});
        assert_eq!(field_of(check_document(&doc)), "description[0]");
        let at_limit = json!({"description": ["é".repeat(MAX_TEXT)]});
        assert!(check_document(&at_limit).is_ok());
    }

    #[test]
    fn identifiers_are_one_short_printable_line() {
        assert!(identifier("login", "ana@simubiz.com".into()).is_ok());
        for bad in ["a\nb", "a\rb", "a\tb", "a\u{7f}b", "", "  "] {
            assert_eq!(
                field_of(identifier("login", bad.into())),
                "login",
                "{bad:?}"
            );
        }
        assert_eq!(
            field_of(identifier("login", "x".repeat(MAX_IDENTIFIER + 1))),
            "login"
        );
        assert!(identifier("login", "x".repeat(MAX_IDENTIFIER)).is_ok());
    }
}
