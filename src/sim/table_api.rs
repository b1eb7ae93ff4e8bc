//! The Table API: `sysparm_*` parameters, list and single-record reads, create, update and
//! delete, with the `Location`, `Link` and `X-Total-Count` headers a real instance sends.
//! Records change only through `write`.

use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::Value;

use super::Sim;
use super::clock;
use super::db::Db;
use super::error::SnError;
use super::http::{JSON, TableRoute, base_url};
use super::query::{Query, QueryCtx};
use super::render::{DisplayMode, RenderOpts, Renderer};
use super::schema::TableDef;
use super::write::{self, Actor, Input, WriteCtx};

/// The `sysparm_*` parameters the emulator honours. Others, and unknown parameters, are
/// ignored as a real instance ignores them.
#[derive(Debug)]
struct Params {
    query: String,
    fields: Option<Vec<String>>,
    mode: DisplayMode,
    exclude_link: bool,
    input_display: bool,
    limit: Option<usize>,
    offset: usize,
    no_count: bool,
    suppress_pagination: bool,
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
    fn parse(pairs: &[(String, String)]) -> Result<Self, SnError> {
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

#[derive(Serialize)]
struct Envelope<T> {
    result: T,
}

/// The requesting user as the rules need it.
fn actor(db: &Db, user: &str) -> Actor {
    let def = db.schema.table("sys_user");
    let row = db.find("sys_user", "user_name", user);
    let (sys_id, tz) = match (def, row) {
        (Some(d), Some(r)) => (
            r[d.sys("sys_id")].clone(),
            d.idx("time_zone").map(|i| r[i].clone()).unwrap_or_default(),
        ),
        _ => (String::new(), String::new()),
    };
    Actor {
        user_name: user.to_owned(),
        sys_id,
        tz_offset: clock::zone_offset(&tz),
    }
}

fn accepts_json(headers: &HeaderMap) -> bool {
    let Some(accept) = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()) else {
        return true;
    };
    accept.split(',').any(|part| {
        let media = part
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        matches!(
            media.as_str(),
            "" | "*/*" | "application/*" | "application/json"
        )
    })
}

fn json_response(status: StatusCode, bytes: Vec<u8>) -> Response {
    let mut resp = (status, bytes).into_response();
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(JSON));
    resp
}

fn encode<T: Serialize>(body: &T) -> Result<Vec<u8>, SnError> {
    serde_json::to_vec(body).map_err(|_| SnError::internal())
}

/// Serves one Table API request of an authenticated user.
pub(crate) fn handle(
    sim: &Sim,
    route: &TableRoute,
    parts: &Parts,
    body: &[u8],
    user: &str,
) -> Response {
    serve(sim, route, parts, body, user).unwrap_or_else(IntoResponse::into_response)
}

fn serve(
    sim: &Sim,
    route: &TableRoute,
    parts: &Parts,
    body: &[u8],
    user: &str,
) -> Result<Response, SnError> {
    if !accepts_json(&parts.headers) {
        return Err(SnError::not_acceptable());
    }
    let schema = sim.schema.clone();
    let def = schema
        .table(&route.table)
        .ok_or_else(|| SnError::invalid_table(&route.table))?;
    let pairs: Vec<(String, String)> = parts
        .uri
        .query()
        .map(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .into_owned()
                .collect()
        })
        .unwrap_or_default();
    let params = Params::parse(&pairs)?;
    let base = base_url(sim, &parts.headers);
    let version = if route.version.is_empty() {
        "v2"
    } else {
        route.version
    };
    let mut opts = RenderOpts {
        mode: params.mode,
        exclude_link: params.exclude_link,
        fields: params.fields.clone(),
        link_prefix: format!("{base}api/now/{version}/table/"),
        tz_offset: 0,
    };
    let method = &parts.method;
    match route.sys_id.as_deref() {
        None if method == Method::GET => {
            let db = sim.read_db();
            let me = actor(&db, user);
            opts.tz_offset = me.tz_offset;
            list(
                sim,
                &db,
                def,
                &me,
                &params,
                &pairs,
                &opts,
                &base,
                parts.uri.path(),
            )
        }
        Some(id) if method == Method::GET => {
            let db = sim.read_db();
            opts.tz_offset = actor(&db, user).tz_offset;
            let row = db.get(def.name, id).ok_or_else(SnError::not_found)?;
            let r = Renderer::new(&db, def, &opts);
            Ok(json_response(
                StatusCode::OK,
                encode(&Envelope {
                    result: r.record(row),
                })?,
            ))
        }
        None if method == Method::POST => {
            let input = read_body(&parts.headers, body)?;
            let mut db = sim.write_db();
            let me = actor(&db, user);
            opts.tz_offset = me.tz_offset;
            let ctx = write_ctx(sim, &me, params.input_display);
            let values = write::create(&mut db, def, &input, &ctx)?;
            let r = Renderer::new(&db, def, &opts);
            let mut resp = json_response(
                StatusCode::CREATED,
                encode(&Envelope {
                    result: r.record(&values),
                })?,
            );
            // Location holds the v2 URL whatever version was asked (recorded).
            let location = format!(
                "{base}api/now/v2/table/{}/{}",
                def.name,
                values[def.sys("sys_id")]
            );
            if let Ok(v) = HeaderValue::from_str(&location) {
                resp.headers_mut().insert(header::LOCATION, v);
            }
            Ok(resp)
        }
        Some(id) if method == Method::PUT || method == Method::PATCH => {
            let input = read_body(&parts.headers, body)?;
            let mut db = sim.write_db();
            let me = actor(&db, user);
            opts.tz_offset = me.tz_offset;
            let ctx = write_ctx(sim, &me, params.input_display);
            let values = write::update(&mut db, def, id, &input, &ctx)?;
            let r = Renderer::new(&db, def, &opts);
            Ok(json_response(
                StatusCode::OK,
                encode(&Envelope {
                    result: r.record(&values),
                })?,
            ))
        }
        Some(id) if method == Method::DELETE => {
            let mut db = sim.write_db();
            let me = actor(&db, user);
            write::delete(&mut db, def, id, &write_ctx(sim, &me, false))?;
            Ok(StatusCode::NO_CONTENT.into_response())
        }
        _ => Err(SnError::method_not_allowed(method.as_str())),
    }
}

fn write_ctx<'a>(sim: &'a Sim, actor: &'a Actor, input_display: bool) -> WriteCtx<'a> {
    WriteCtx {
        actor,
        now: sim.clock.now_text(),
        input_display,
        system: false,
        approver: &sim.approver,
        deny_label_entry: sim.config.deny_label_entry_writes,
    }
}

#[allow(clippy::too_many_arguments)]
fn list(
    sim: &Sim,
    db: &Db,
    def: &TableDef,
    me: &Actor,
    params: &Params,
    pairs: &[(String, String)],
    opts: &RenderOpts,
    base: &str,
    path: &str,
) -> Result<Response, SnError> {
    let now = sim.clock.now_text();
    let ctx = QueryCtx {
        db,
        def,
        user_sys_id: &me.sys_id,
        now: &now,
    };
    let query = Query::parse(&params.query, &ctx);
    let mut rows: Vec<&Vec<String>> =
        if !query.invalid_parts.is_empty() && sim.config.invalid_query_returns_no_rows {
            Vec::new()
        } else {
            db.table(def.name)
                .map(|t| t.rows().filter(|r| query.matches(db, def, r)).collect())
                .unwrap_or_default()
        };
    query.sort(db, def, &mut rows);
    let total = rows.len();
    let limit = params
        .limit
        .unwrap_or(sim.config.max_rows)
        .min(sim.config.max_rows);
    let r = Renderer::new(db, def, opts);
    let page: Vec<_> = rows
        .iter()
        .skip(params.offset)
        .take(limit)
        .map(|row| r.record(row))
        .collect();
    let shown = page.len();
    let mut resp = json_response(StatusCode::OK, encode(&Envelope { result: page })?);
    let h = resp.headers_mut();
    if !params.no_count {
        h.insert("X-Total-Count", HeaderValue::from(total));
    }
    if !params.suppress_pagination {
        let known = (!params.no_count).then_some(total);
        let link = link_header(base, path, pairs, limit, params.offset, known, shown);
        if let Ok(v) = HeaderValue::from_str(&link) {
            h.insert(header::LINK, v);
        }
    }
    Ok(resp)
}

/// The `Link` header. As recorded: other parameters (unknown ones included) are kept, the
/// page parameters come last, and `prev` is sent even from offset 0 (with a negative offset).
/// `next` is left out on the last page; `last` needs the count.
fn link_header(
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
fn read_body(headers: &HeaderMap, body: &[u8]) -> Result<Input, SnError> {
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
