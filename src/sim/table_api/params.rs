//! Query parameters, request bodies and the `Link` header of the Table API: parsing and
//! formatting only, no records.

use axum::http::{HeaderMap, header};
use serde_json::Value;

use crate::sim::error::SnError;
use crate::sim::render::DisplayMode;
use crate::sim::write::Input;

/// The `sysparm_*` parameters the emulator honours. Others, and unknown parameters, are
/// ignored as a real instance ignores them.
#[derive(Debug)]
pub(super) struct Params {
    pub query: String,
    pub fields: Option<Vec<String>>,
    pub mode: DisplayMode,
    pub exclude_link: bool,
    pub input_display: bool,
    pub limit: Option<usize>,
    pub offset: usize,
    pub no_count: bool,
    pub suppress_pagination: bool,
}

fn flag(name: &str, v: &str) -> Result<bool, SnError> {
    match v.to_ascii_lowercase().as_str() {
        "true" => Ok(true),
        "false" | "" => Ok(false),
        _ => Err(SnError::bad_request(
            format!("Invalid value for {name}"),
            format!("{name} must be true or false, got '{v}'"),
        )),
    }
}

impl Params {
    pub(super) fn parse(pairs: &[(String, String)]) -> Result<Self, SnError> {
        let mut p = Params {
            query: String::new(),
            fields: None,
            mode: DisplayMode::Value,
            exclude_link: false,
            input_display: false,
            limit: None,
            offset: 0,
            no_count: false,
            suppress_pagination: false,
        };
        for (k, v) in pairs {
            match k.as_str() {
                "sysparm_query" => p.query = v.clone(),
                "sysparm_fields" => {
                    let names: Vec<String> = v
                        .split(',')
                        .map(|s| s.trim().to_owned())
                        .filter(|s| !s.is_empty())
                        .collect();
                    p.fields = (!names.is_empty()).then_some(names);
                }
                "sysparm_display_value" => {
                    p.mode = match v.to_ascii_lowercase().as_str() {
                        "true" => DisplayMode::Display,
                        "false" | "" => DisplayMode::Value,
                        "all" => DisplayMode::All,
                        _ => {
                            return Err(SnError::bad_request(
                                "Invalid value for sysparm_display_value",
                                format!(
                                    "sysparm_display_value must be true, false or all, got '{v}'"
                                ),
                            ));
                        }
                    }
                }
                "sysparm_exclude_reference_link" => p.exclude_link = flag(k, v)?,
                "sysparm_input_display_value" => p.input_display = flag(k, v)?,
                "sysparm_no_count" => p.no_count = flag(k, v)?,
                "sysparm_suppress_pagination_header" => p.suppress_pagination = flag(k, v)?,
                "sysparm_limit" => {
                    let n: i64 = v.trim().parse().map_err(|_| {
                        SnError::bad_request(
                            "Invalid value for sysparm_limit",
                            format!("sysparm_limit must be a whole number, got '{v}'"),
                        )
                    })?;
                    if n <= 0 {
                        return Err(SnError::bad_request(
                            format!("limit is {n}"),
                            "sysparm_limit must be greater than zero",
                        ));
                    }
                    p.limit = Some(usize::try_from(n).unwrap_or(usize::MAX));
                }
                "sysparm_offset" => {
                    let n: i64 = v.trim().parse().map_err(|_| {
                        SnError::bad_request(
                            "Invalid value for sysparm_offset",
                            format!("sysparm_offset must be a whole number, got '{v}'"),
                        )
                    })?;
                    if n < 0 {
                        // The documented body of this 400.
                        return Err(SnError::bad_request(
                            format!("offset is {n}"),
                            "Negative offset is not supported",
                        ));
                    }
                    p.offset = usize::try_from(n).unwrap_or(usize::MAX);
                }
                _ => {}
            }
        }
        Ok(p)
    }
}

/// The `Link` header. As recorded: other parameters (unknown ones included) are kept, the
/// page parameters come last, and `prev` is sent even from offset 0 (with a negative offset).
/// `next` is left out on the last page; `last` needs the count.
pub(super) fn link_header(
    base: &str,
    path: &str,
    pairs: &[(String, String)],
    limit: usize,
    offset: usize,
    total: Option<usize>,
    shown: usize,
) -> String {
    let mut kept = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        if k != "sysparm_limit" && k != "sysparm_offset" {
            kept.append_pair(k, v);
        }
    }
    let kept = kept.finish();
    let sep = if kept.is_empty() { "" } else { "&" };
    let path = path.trim_start_matches('/');
    let url = |off: i128, rel: &str| {
        format!(
            "<{base}{path}?{kept}{sep}sysparm_limit={limit}&sysparm_offset={off}>;rel=\"{rel}\""
        )
    };
    let (limit_i, offset_i) = (limit as i128, offset as i128);
    let mut links = vec![url(0, "first"), url(offset_i - limit_i, "prev")];
    let more = match total {
        Some(t) => offset + limit < t,
        None => shown == limit,
    };
    if more {
        links.push(url(offset_i + limit_i, "next"));
    }
    if let Some(t) = total {
        let last = (t.max(1) as i128 - 1) / limit_i * limit_i;
        links.push(url(last, "last"));
    }
    links.join(",")
}

/// The one record a POST, PUT or PATCH carries, as strings.
pub(super) fn read_body(headers: &HeaderMap, body: &[u8]) -> Result<Input, SnError> {
    if let Some(ct) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        && !ct.to_ascii_lowercase().contains("json")
    {
        return Err(SnError::unsupported_media(ct));
    }
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(SnError::bad_body("The request body is empty"));
    }
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| SnError::bad_body(format!("The payload is not valid JSON: {e}")))?;
    // Several records: the first is processed, the rest ignored (KB0534905).
    let record = match value {
        Value::Array(items) => items.into_iter().next(),
        other => Some(other),
    };
    match record {
        Some(Value::Object(map)) => Ok(map.into_iter().map(|(k, v)| (k, stringify(v))).collect()),
        _ => Err(SnError::bad_body(
            "The payload must be a JSON object of field values",
        )),
    }
}

/// A JSON value as the platform stores it in a text field: objects and arrays in Java's map
/// and list notation, as the recorded junk references show.
fn stringify(v: Value) -> String {
    match v {
        Value::String(s) => s,
        Value::Null => String::new(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::Array(items) => format!(
            "[{}]",
            items
                .into_iter()
                .map(stringify)
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Value::Object(map) => format!(
            "{{{}}}",
            map.into_iter()
                .map(|(k, v)| format!("{k}={}", stringify(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_header_matches_the_recorded_first_page() {
        let pairs = vec![
            ("query".to_owned(), "number=INC0000040".to_owned()),
            ("display_value".to_owned(), "True".to_owned()),
            ("sysparm_limit".to_owned(), "1".to_owned()),
        ];
        let got = link_header(
            "https://i/",
            "/api/now/v2/table/incident",
            &pairs,
            1,
            0,
            Some(67),
            1,
        );
        let q = "query=number%3DINC0000040&display_value=True";
        let expected = [
            format!("<https://i/api/now/v2/table/incident?{q}&sysparm_limit=1&sysparm_offset=0>;rel=\"first\""),
            format!("<https://i/api/now/v2/table/incident?{q}&sysparm_limit=1&sysparm_offset=-1>;rel=\"prev\""),
            format!("<https://i/api/now/v2/table/incident?{q}&sysparm_limit=1&sysparm_offset=1>;rel=\"next\""),
            format!("<https://i/api/now/v2/table/incident?{q}&sysparm_limit=1&sysparm_offset=66>;rel=\"last\""),
        ]
        .join(",");
        assert_eq!(got, expected);
    }

    #[test]
    fn objects_are_stored_in_java_map_notation() {
        let v: Value = serde_json::json!({"link": "https://x", "value": "abc"});
        assert_eq!(stringify(v), "{link=https://x, value=abc}");
    }
}
