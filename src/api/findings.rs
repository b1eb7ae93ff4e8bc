//! The findings read API: `GET /v1/findings` (filtered, newest first, keyset pages behind
//! an opaque cursor) and `GET /v1/findings/{id}` (one finding with its outbox rows and audit
//! trail). Read-only: the queries live in `store::queries`.

use axum::Json;
use axum::extract::{RawQuery, State};
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

pub use super::cursor::DEFAULT_LIMIT;
#[cfg(test)]
use super::cursor::MAX_LIMIT;
use super::cursor::{decode as decode_cursor, encode as encode_cursor};
use super::error::ErrorBody;
use super::outbox::OutboxView;
use super::params::{PathId, bad, query_pairs};
use super::{ApiError, AppState};
use crate::domain::{FindingKind, FindingStatus};
use crate::servicenow::Client;
use crate::store::entity::{audit, finding, ticket_link};
use crate::store::queries::{self, FindingFilter};

const LIST_PARAMS: &[&str] = &["status", "source", "check", "ticket", "limit", "cursor"];

/// List findings, newest first, with their tickets.
#[utoipa::path(
    get, path = "/v1/findings", tag = "findings",
    params(
        ("status" = Option<FindingStatus>, Query, description = "Only findings in this status"),
        ("source" = Option<String>, Query, description = "Only findings of this source"),
        ("check" = Option<String>, Query, description = "Only findings of this check id"),
        ("ticket" = Option<String>, Query, description = "Only the finding of this ticket number, e.g. INC0010001"),
        ("limit" = Option<u64>, Query, description = "Findings per page (default 50)", minimum = 1, maximum = 500),
        ("cursor" = Option<String>, Query, description = "`next_cursor` of the previous page"),
    ),
    responses(
        (status = 200, description = "A page of findings", body = FindingsPage),
        (status = 400, description = "A bad parameter, named in `error.field`", body = ErrorBody),
        (status = 401, description = "No valid API key", body = ErrorBody),
        (status = 503, description = "The database is unavailable; retry after `Retry-After`", body = ErrorBody),
    ),
    security(("api_key" = []), ("bearer" = []))
)]
pub async fn list(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<Json<FindingsPage>, ApiError> {
    let request = ListRequest::parse(query.as_deref())?;
    let page = queries::findings_page(
        &state.intake.db,
        &request.filter,
        request.before,
        request.limit,
    )
    .await?;
    let next_cursor = page
        .rows
        .last()
        .filter(|_| page.more)
        .map(|row| encode_cursor(row.finding.id));
    let findings = page
        .rows
        .into_iter()
        .map(|row| FindingView::new(row.finding, row.ticket, &state.servicenow))
        .collect();
    Ok(Json(FindingsPage {
        findings,
        next_cursor,
    }))
}

/// Show one finding with its ticket, decision, outbox rows and audit trail.
#[utoipa::path(
    get, path = "/v1/findings/{id}", tag = "findings",
    params(("id" = i64, Path, description = "The finding's id")),
    responses(
        (status = 200, description = "The finding", body = FindingDetail),
        (status = 400, description = "The id is not an integer", body = ErrorBody),
        (status = 401, description = "No valid API key", body = ErrorBody),
        (status = 404, description = "No such finding", body = ErrorBody),
        (status = 503, description = "The database is unavailable; retry after `Retry-After`", body = ErrorBody),
    ),
    security(("api_key" = []), ("bearer" = []))
)]
pub async fn show(
    State(state): State<AppState>,
    PathId(id): PathId,
) -> Result<Json<FindingDetail>, ApiError> {
    let detail = queries::finding_detail(&state.intake.db, id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no finding with id {id}")))?;
    let rule = detail.finding.rule.clone();
    let profile = detail.finding.profile.clone();
    let payload = detail.finding.payload.clone();
    Ok(Json(FindingDetail {
        finding: FindingView::new(detail.finding, detail.ticket, &state.servicenow),
        rule,
        profile,
        payload,
        outbox: detail.outbox.into_iter().map(OutboxView::from).collect(),
        audit: detail.audit.into_iter().map(AuditView::from).collect(),
    }))
}

/// The cursor of the page after the row `id`, for the console's pager.
pub(crate) fn cursor_after(id: i64) -> String {
    encode_cursor(id)
}

/// The id a console pager's cursor names.
pub(crate) fn cursor_id(cursor: &str) -> Result<i64, ApiError> {
    decode_cursor(cursor)
}

/// The query of `GET /v1/findings`, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ListRequest {
    pub(crate) filter: FindingFilter,
    pub(crate) before: Option<i64>,
    pub(crate) limit: u64,
}

impl ListRequest {
    pub(crate) fn parse(query: Option<&str>) -> Result<Self, ApiError> {
        let mut pairs = query_pairs(query, LIST_PARAMS)?;
        let status = pairs
            .remove("status")
            .map(|text| text.parse::<FindingStatus>())
            .transpose()
            .map_err(|e| bad("status", e.to_string()))?;
        let limit = match pairs.remove("limit") {
            None => DEFAULT_LIMIT,
            Some(text) => super::cursor::limit(&text)?,
        };
        let before = pairs
            .remove("cursor")
            .map(|c| decode_cursor(&c))
            .transpose()?;
        Ok(Self {
            filter: FindingFilter {
                status,
                source: pairs.remove("source"),
                check_id: pairs.remove("check"),
                ticket: pairs.remove("ticket"),
            },
            before,
            limit,
        })
    }
}

/// The answer of `GET /v1/findings`.
#[derive(Debug, Serialize, ToSchema)]
pub struct FindingsPage {
    findings: Vec<FindingView>,
    /// Present when older findings match too: pass it as `cursor` for the next page.
    next_cursor: Option<String>,
}

/// A finding as both endpoints show it.
#[derive(Debug, Serialize, ToSchema)]
pub struct FindingView {
    id: i64,
    key: String,
    status: FindingStatus,
    source: String,
    kind: FindingKind,
    check_id: String,
    subject: String,
    title: String,
    severity: String,
    occurrences: i64,
    first_seen: DateTime<Utc>,
    last_seen: DateTime<Utc>,
    resolved_by: Option<String>,
    decision: Option<String>,
    /// The ticket of the finding, or of the group that lists it.
    ticket: Option<TicketView>,
    /// The group (`group_by = "check"`) whose ticket lists this finding.
    group_id: Option<i64>,
    /// This finding is a group: one ticket listing the findings whose `group_id` it is.
    is_group: bool,
}

impl FindingView {
    fn new(f: finding::Model, ticket: Option<ticket_link::Model>, servicenow: &Client) -> Self {
        Self {
            id: f.id,
            key: f.finding_key,
            status: f.status,
            source: f.source,
            kind: f.kind,
            check_id: f.check_id,
            subject: f.subject,
            title: f.title,
            severity: f.severity,
            occurrences: f.occurrences,
            first_seen: f.first_seen,
            last_seen: f.last_seen,
            resolved_by: f.resolved_by,
            decision: f.decision,
            ticket: ticket.map(|t| TicketView::new(t, servicenow)),
            group_id: f.group_id,
            is_group: f.is_group,
        }
    }
}

/// What snowsync knows of a finding's ticket; `sys_id`, `number` and `link` stay null
/// until the ticket is created.
#[derive(Debug, Serialize, ToSchema)]
pub struct TicketView {
    table: String,
    number: Option<String>,
    state: Option<String>,
    sys_id: Option<String>,
    correlation_id: String,
    sys_mod_count: Option<i64>,
    sys_updated_on: Option<String>,
    /// The record in the instance's user interface.
    link: Option<String>,
}

impl TicketView {
    fn new(t: ticket_link::Model, servicenow: &Client) -> Self {
        let link = t
            .sys_id
            .as_deref()
            .and_then(|sys_id| servicenow.record_link(&t.table_name, sys_id));
        Self {
            table: t.table_name,
            number: t.number,
            state: t.state,
            sys_id: t.sys_id,
            correlation_id: t.correlation_id,
            sys_mod_count: t.sys_mod_count,
            sys_updated_on: t.sys_updated_on,
            link,
        }
    }
}

/// The answer of `GET /v1/findings/{id}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct FindingDetail {
    #[serde(flatten)]
    finding: FindingView,
    rule: Option<String>,
    profile: Option<String>,
    /// The finding as the source last sent it.
    #[serde(rename = "finding")]
    #[schema(value_type = Object)]
    payload: serde_json::Value,
    outbox: Vec<OutboxView>,
    audit: Vec<AuditView>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditView {
    event: String,
    from: Option<String>,
    to: String,
    actor: String,
    /// Parsed when it is JSON (a planning error is), else the text as stored.
    #[schema(value_type = Option<Object>)]
    detail: Option<serde_json::Value>,
    at: DateTime<Utc>,
}

impl From<audit::Model> for AuditView {
    fn from(a: audit::Model) -> Self {
        let detail = a
            .detail
            .map(|text| serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text)));
        Self {
            event: a.event,
            from: a.from_status,
            to: a.to_status,
            actor: a.actor,
            detail,
            at: a.at,
        }
    }
}

#[cfg(test)]
mod tests {
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    use super::*;

    fn check(query: &str, expect: Result<ListRequest, &str>) {
        let got = ListRequest::parse(Some(query)).map_err(|e| match e {
            ApiError::BadRequest { field, .. } => field,
            other => panic!("{query}: expected a 400, got {other:?}"),
        });
        assert_eq!(got, expect.map_err(str::to_owned), "{query}");
    }

    fn request(filter: FindingFilter, before: Option<i64>, limit: u64) -> ListRequest {
        ListRequest {
            filter,
            before,
            limit,
        }
    }

    #[test]
    fn list_queries_are_checked_parameter_by_parameter() {
        check(
            "",
            Ok(request(FindingFilter::default(), None, DEFAULT_LIMIT)),
        );
        check(
            "status=escalated&source=oort&check=inactive-users&ticket=INC0010001&limit=500",
            Ok(request(
                FindingFilter {
                    status: Some(FindingStatus::Escalated),
                    source: Some("oort".to_owned()),
                    check_id: Some("inactive-users".to_owned()),
                    ticket: Some("INC0010001".to_owned()),
                },
                None,
                MAX_LIMIT,
            )),
        );
        check(
            &format!("limit=1&cursor={}", encode_cursor(17)),
            Ok(request(FindingFilter::default(), Some(17), 1)),
        );
        check(
            "status=&limit=",
            Ok(request(FindingFilter::default(), None, 50)),
        );
        check("status=closed", Err("status"));
        check("status=Open", Err("status"));
        check("limit=0", Err("limit"));
        check("limit=501", Err("limit"));
        check("limit=-1", Err("limit"));
        check("limit=ten", Err("limit"));
        check("cursor=!!", Err("cursor"));
        check(
            &format!("cursor={}", URL_SAFE_NO_PAD.encode("x")),
            Err("cursor"),
        );
        check(
            &format!("cursor={}", URL_SAFE_NO_PAD.encode("0")),
            Err("cursor"),
        );
        check("state=open", Err("state"));
    }

    #[test]
    fn a_bad_status_lists_the_allowed_values() {
        let Err(ApiError::BadRequest { message, .. }) = ListRequest::parse(Some("status=closed"))
        else {
            panic!("expected a 400");
        };
        for name in FindingStatus::NAMES {
            assert!(message.contains(name), "{message}");
        }
    }

    #[test]
    fn a_cursor_round_trips() {
        for id in [1, 42, i64::MAX] {
            assert_eq!(decode_cursor(&encode_cursor(id)).ok(), Some(id));
        }
    }
}
