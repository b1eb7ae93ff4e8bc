//! The Table API's wire shapes: records, the `{"result": ..}` and `{"error": ..}` envelopes,
//! `Link` and `X-Total-Count` headers, and the checks on names put into URLs and queries.
//!
//! Pure functions only: no IO, no logging.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// One Table API record as the instance sent it (actual values, `sysparm_display_value=false`).
///
/// Every value is a JSON string on a real instance; a reference is `{"link", "value"}`, or a
/// plain sys_id with `sysparm_exclude_reference_link=true`, or `""` when empty.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Record(pub Map<String, Value>);

impl Record {
    /// A plain string field; `None` when absent or not a string.
    pub fn str(&self, field: &str) -> Option<&str> {
        self.0.get(field).and_then(Value::as_str)
    }

    /// The sys_id a reference field points at: the `value` of `{"link","value"}`, or the plain
    /// string. `None` when absent or empty.
    pub fn reference(&self, field: &str) -> Option<&str> {
        let v = match self.0.get(field)? {
            Value::String(s) => s.as_str(),
            Value::Object(o) => o.get("value").and_then(Value::as_str)?,
            _ => return None,
        };
        (!v.is_empty()).then_some(v)
    }

    /// The display value of a field read with `sysparm_display_value=true` (or `all`), else
    /// the plain string.
    pub fn display(&self, field: &str) -> Option<&str> {
        match self.0.get(field)? {
            Value::String(s) => Some(s),
            Value::Object(o) => o.get("display_value").and_then(Value::as_str),
            _ => None,
        }
    }

    /// The raw JSON value of a field.
    pub fn get(&self, field: &str) -> Option<&Value> {
        self.0.get(field)
    }

    /// The record's own sys_id.
    pub fn sys_id(&self) -> Option<&str> {
        self.str("sys_id").filter(|s| !s.is_empty())
    }

    /// The human-facing number, e.g. `INC0010006` or `REQ0010003`.
    pub fn number(&self) -> Option<&str> {
        self.str("number").filter(|s| !s.is_empty())
    }

    /// The update counter; display values with thousands separators are accepted too.
    pub fn sys_mod_count(&self) -> Option<i64> {
        self.str("sys_mod_count")
            .and_then(|s| s.replace(',', "").trim().parse().ok())
    }

    /// `sys_updated_on` as sent: `YYYY-MM-DD HH:MM:SS`, UTC with actual values.
    pub fn sys_updated_on(&self) -> Option<&str> {
        self.str("sys_updated_on").filter(|s| !s.is_empty())
    }

    /// `sys_updated_on` parsed as UTC. Only actual values (`sysparm_display_value=false`) are
    /// UTC; display values are in the reading user's time zone and would parse hours off.
    pub fn updated_on(&self) -> Option<chrono::DateTime<chrono::Utc>> {
        parse_datetime(self.sys_updated_on()?)
    }

    /// The `user_name` of whoever made the last change, e.g. `help.desk` or `system`.
    pub fn sys_updated_by(&self) -> Option<&str> {
        self.str("sys_updated_by").filter(|s| !s.is_empty())
    }

    /// The fields as a JSON map.
    pub fn into_map(self) -> Map<String, Value> {
        self.0
    }
}

/// Parses the Table API date-time form `YYYY-MM-DD HH:MM:SS` as UTC.
pub fn parse_datetime(text: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    chrono::NaiveDateTime::parse_from_str(text.trim(), "%Y-%m-%d %H:%M:%S")
        .ok()
        .map(|n| n.and_utc())
}

/// Formats a UTC time the way encoded queries compare date-times.
pub fn format_datetime(at: chrono::DateTime<chrono::Utc>) -> String {
    at.format("%Y-%m-%d %H:%M:%S").to_string()
}

/// `{"error": {"message", "detail"}, "status": "failure"}`.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct ErrorEnvelope {
    #[serde(default)]
    pub error: Option<ErrorBody>,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct ErrorBody {
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub detail: Option<String>,
}

/// `message` and `detail` of an error body, when it is the Table API error envelope.
pub(crate) fn error_message(body: &[u8]) -> (Option<String>, Option<String>) {
    match serde_json::from_slice::<ErrorEnvelope>(body) {
        Ok(ErrorEnvelope {
            error: Some(ErrorBody { message, detail }),
        }) => (message, detail),
        _ => (None, None),
    }
}

/// What a success body held under `result`.
#[derive(Debug)]
pub(crate) enum ResultBody {
    One(Record),
    Many(Vec<Record>),
    /// `result: null` or no `result` at all: an instance that is not really serving.
    Missing,
}

/// Decodes `{"result": ..}`; an error names the first offending place.
pub(crate) fn decode_result(body: &[u8]) -> Result<ResultBody, String> {
    #[derive(Deserialize)]
    struct Envelope {
        #[serde(default)]
        result: Option<Value>,
    }
    let env: Envelope = serde_json::from_slice(body).map_err(|e| format!("not JSON ({e})"))?;
    match env.result {
        None | Some(Value::Null) => Ok(ResultBody::Missing),
        Some(Value::Object(map)) => Ok(ResultBody::One(Record(map))),
        Some(Value::Array(items)) => items
            .into_iter()
            .enumerate()
            .map(|(i, v)| match v {
                Value::Object(map) => Ok(Record(map)),
                other => Err(format!("result[{i}] is {}, not an object", kind(&other))),
            })
            .collect::<Result<_, _>>()
            .map(ResultBody::Many),
        Some(other) => Err(format!(
            "result is {}, not an object or array",
            kind(&other)
        )),
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The `sysparm_offset` of the `rel` link in a `Link` header, when present and parsable.
pub(crate) fn link_offset(header: &str, rel: &str) -> Option<i64> {
    header.split(',').find_map(|part| {
        let (target, params) = part.trim().split_once(';')?;
        if !names_rel(params, rel) {
            return None;
        }
        let target = target.trim().trim_start_matches('<').trim_end_matches('>');
        let url = url::Url::parse(target).ok()?;
        url.query_pairs()
            .find(|(k, _)| k == "sysparm_offset")
            .and_then(|(_, v)| v.parse().ok())
    })
}

/// Whether the `Link` header names a `rel` at all, read as `link_offset` reads it, so that
/// paging never stops at a page whose `next` link it would follow.
pub(crate) fn has_link(header: &str, rel: &str) -> bool {
    header.split(',').any(|part| {
        part.trim()
            .split_once(';')
            .is_some_and(|(_, params)| names_rel(params, rel))
    })
}

/// Whether a link's parameters (after its `<target>;`) hold `rel=R` or `rel="R"`.
fn names_rel(params: &str, rel: &str) -> bool {
    params.split(';').any(|p| {
        p.trim()
            .strip_prefix("rel=")
            .is_some_and(|r| r.trim_matches('"') == rel)
    })
}

/// The address of a record in the instance's user interface:
/// `{instance}/{table}.do?sys_id={sys_id}`, for people to follow from snowsync's answers.
/// `None` when the table or the sys_id is not one snowsync would put into a URL.
pub fn record_link(instance: &url::Url, table: &str, sys_id: &str) -> Option<String> {
    check_table(table).ok()?;
    check_sys_id(sys_id).ok()?;
    let mut url = instance.join(&format!("{table}.do")).ok()?;
    url.query_pairs_mut().append_pair("sys_id", sys_id);
    Some(url.into())
}

/// Table names go into the URL path: lower-case letters, digits and `_` only.
pub(crate) fn check_table(table: &str) -> Result<(), String> {
    let ok = !table.is_empty()
        && table.len() <= 80
        && table
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "table name `{table}` must be lower-case letters, digits and `_`"
        ))
    }
}

/// sys_ids go into the URL path: letters and digits only (32 hex characters on real instances).
pub(crate) fn check_sys_id(sys_id: &str) -> Result<(), String> {
    let ok = !sys_id.is_empty()
        && sys_id.len() <= 64
        && sys_id.chars().all(|c| c.is_ascii_alphanumeric());
    if ok {
        Ok(())
    } else {
        Err(format!("sys_id `{sys_id}` must be letters and digits only"))
    }
}

/// Field names go into `sysparm_fields` and queries: letters, digits, `_` and `.` (dot-walks).
pub(crate) fn check_field(field: &str) -> Result<(), String> {
    let ok = !field.is_empty()
        && field
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "field name `{field}` must be letters, digits, `_` and `.`"
        ))
    }
}

/// The encoded-query operators the client writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    Eq,
    StartsWith,
    /// `>=`; on date-times the instance compares UTC values.
    AtLeast,
    /// `>`: after, for keyed pages.
    After,
}

impl Op {
    fn text(self) -> &'static str {
        match self {
            Self::Eq => "=",
            Self::StartsWith => "STARTSWITH",
            Self::AtLeast => ">=",
            Self::After => ">",
        }
    }
}

/// One condition of an encoded query. A value holding `^` (the condition separator), a line
/// break or starting with `javascript:` would change the query's meaning, so it is refused:
/// the document names no escape for `^`.
pub(crate) fn condition(field: &str, op: Op, value: &str) -> Result<String, String> {
    check_field(field)?;
    if value.contains('^') || value.contains(['\n', '\r']) {
        return Err(format!(
            "value `{value}` for `{field}` contains `^` or a line break, which an encoded query cannot carry"
        ));
    }
    if value
        .trim_start()
        .to_ascii_lowercase()
        .starts_with("javascript:")
    {
        return Err(format!(
            "value `{value}` for `{field}` starts with `javascript:`, which the instance would evaluate"
        ));
    }
    Ok(format!("{field}{}{value}", op.text()))
}

/// `field=value` for an encoded query; see [`condition`].
pub(crate) fn eq(field: &str, value: &str) -> Result<String, String> {
    condition(field, Op::Eq, value)
}

/// `ORDERBYfield`.
pub(crate) fn order_by(field: &str) -> Result<String, String> {
    check_field(field)?;
    Ok(format!("ORDERBY{field}"))
}

/// The `sysparm_fields` value: the requested fields plus `sys_id`, without duplicates.
pub(crate) fn field_list(fields: &[&str]) -> Result<String, String> {
    let mut out: Vec<&str> = Vec::with_capacity(fields.len() + 1);
    for f in std::iter::once(&"sys_id").chain(fields) {
        check_field(f)?;
        if !out.contains(f) {
            out.push(f);
        }
    }
    Ok(out.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    const RECORDED_LINK: &str = "<https://dev130168.service-now.com/api/now/v2/table/incident?query=number%3DINC0000040&display_value=True&sysparm_limit=1&sysparm_offset=0>;rel=\"first\",<https://dev130168.service-now.com/api/now/v2/table/incident?query=number%3DINC0000040&display_value=True&sysparm_limit=1&sysparm_offset=-1>;rel=\"prev\",<https://dev130168.service-now.com/api/now/v2/table/incident?query=number%3DINC0000040&display_value=True&sysparm_limit=1&sysparm_offset=1>;rel=\"next\",<https://dev130168.service-now.com/api/now/v2/table/incident?query=number%3DINC0000040&display_value=True&sysparm_limit=1&sysparm_offset=66>;rel=\"last\"";

    #[test]
    fn a_record_link_joins_the_instance_the_table_and_the_sys_id() {
        let check = |instance: &str, table: &str, sys_id: &str, expect: Option<&str>| {
            let instance = url::Url::parse(instance).expect("url");
            assert_eq!(record_link(&instance, table, sys_id).as_deref(), expect);
        };
        let sys_id = "9d385017c611228701d22104cc95c371";
        check(
            "https://dev1.service-now.com/",
            "incident",
            sys_id,
            Some(
                "https://dev1.service-now.com/incident.do?sys_id=9d385017c611228701d22104cc95c371",
            ),
        );
        check(
            "http://127.0.0.1:18080/",
            "sc_request",
            "abc123",
            Some("http://127.0.0.1:18080/sc_request.do?sys_id=abc123"),
        );
        check("https://dev1.service-now.com/", "../x", sys_id, None);
        check("https://dev1.service-now.com/", "incident", "a&b=c", None);
    }

    #[test]
    fn link_header_offsets_are_read_per_rel() {
        assert_eq!(link_offset(RECORDED_LINK, "first"), Some(0));
        assert_eq!(link_offset(RECORDED_LINK, "prev"), Some(-1));
        assert_eq!(link_offset(RECORDED_LINK, "next"), Some(1));
        assert_eq!(link_offset(RECORDED_LINK, "last"), Some(66));
        assert!(has_link(RECORDED_LINK, "next"));
        assert!(!has_link(
            "<https://x/a?sysparm_offset=0>;rel=\"first\"",
            "next"
        ));
    }

    #[test]
    fn reference_reads_link_objects_plain_strings_and_empties() {
        let r: Record = serde_json::from_value(serde_json::json!({
            "opened_by": {"link": "https://i/api/now/v2/table/sys_user/abc", "value": "abc"},
            "assignment_group": "def",
            "caller_id": "",
            "resolved_by": {"display_value": "David Loo", "link": "https://i/x"}
        }))
        .unwrap();
        assert_eq!(r.reference("opened_by"), Some("abc"));
        assert_eq!(r.reference("assignment_group"), Some("def"));
        assert_eq!(r.reference("caller_id"), None);
        assert_eq!(r.reference("resolved_by"), None);
        assert_eq!(r.display("resolved_by"), Some("David Loo"));
    }

    #[test]
    fn query_values_that_would_change_the_query_are_refused() {
        assert_eq!(eq("name", "Service Desk").unwrap(), "name=Service Desk");
        assert!(eq("name", "a^ORname=b").is_err());
        assert!(eq("name", "line\nbreak").is_err());
        assert!(eq("caller_id", "javascript:gs.getUserID()").is_err());
        assert!(eq("na me", "x").is_err());
        assert!(condition("correlation_id", Op::StartsWith, "snowsync:^NQactive=true").is_err());
        assert_eq!(
            condition("sys_updated_on", Op::AtLeast, "2023-08-07 10:59:39").unwrap(),
            "sys_updated_on>=2023-08-07 10:59:39"
        );
        assert!(order_by("sys_id^ORDERBYnumber").is_err());
    }

    #[test]
    fn names_that_would_escape_the_url_path_are_refused() {
        assert!(check_table("incident").is_ok());
        assert!(check_table("u_custom_table2").is_ok());
        assert!(check_table("../oauth_token.do").is_err());
        assert!(check_table("").is_err());
        assert!(check_sys_id("26d1744d47603110d737cd9bd36d436b").is_ok());
        assert!(check_sys_id("a/../b").is_err());
    }

    #[test]
    fn field_list_always_carries_sys_id_once() {
        assert_eq!(field_list(&[]).unwrap(), "sys_id");
        assert_eq!(
            field_list(&["number", "sys_id", "state"]).unwrap(),
            "sys_id,number,state"
        );
    }

    #[test]
    fn result_null_is_missing_not_an_empty_record() {
        assert!(matches!(
            decode_result(br#"{"result": null}"#),
            Ok(ResultBody::Missing)
        ));
        assert!(matches!(decode_result(br#"{}"#), Ok(ResultBody::Missing)));
        assert!(decode_result(br#"{"result": "x"}"#).is_err());
    }

    #[test]
    fn datetimes_are_utc_without_zone() {
        let at = parse_datetime("2023-08-07 10:59:39").unwrap();
        assert_eq!(at.to_rfc3339(), "2023-08-07T10:59:39+00:00");
        assert_eq!(format_datetime(at), "2023-08-07 10:59:39");
    }
}
