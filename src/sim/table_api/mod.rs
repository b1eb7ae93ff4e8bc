//! The Table API: `sysparm_*` parameters, list and single-record reads, create, update and
//! delete, with the `Location`, `Link` and `X-Total-Count` headers a real instance sends.
//! Records change only through `write`.

use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

mod params;

use params::{Params, link_header, read_body};

use crate::sim::Sim;
use crate::sim::clock;
use crate::sim::db::Db;
use crate::sim::error::SnError;
use crate::sim::http::{JSON, TableRoute, base_url};
use crate::sim::query::{Query, QueryCtx};
use crate::sim::render::{RenderOpts, Renderer};
use crate::sim::schema::TableDef;
use crate::sim::write::{self, Actor, WriteCtx};

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
    let total = rows.len();
    let limit = params
        .limit
        .unwrap_or(sim.config.max_rows)
        .min(sim.config.max_rows);
    query.sort_first(db, def, &mut rows, params.offset.saturating_add(limit));
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
