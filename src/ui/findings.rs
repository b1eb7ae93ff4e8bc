//! The findings: a list filtered by status, source, check and ticket number, paged; and a
//! finding's page with its ticket, outbox rows, notifications and audit trail.

use axum::extract::{RawQuery, State};
use maud::{Markup, html};

use super::layout::{self, Section, status, when};
use super::{Operator, UiError};
use crate::api::AppState;
use crate::api::findings::ListRequest;
use crate::domain::FindingStatus;
use crate::operation::OpKind;
use crate::store::entity::{outbox, ticket_link};
use crate::store::outbox::RowStatus;
use crate::store::queries;

/// `GET /ui/findings`.
pub async fn list(
    State(state): State<AppState>,
    operator: Operator,
    RawQuery(query): RawQuery,
) -> Result<Markup, UiError> {
    let request = ListRequest::parse(query.as_deref())?;
    let page = queries::findings_page(
        &state.intake.db,
        &request.filter,
        request.before,
        request.limit,
    )
    .await?;
    let f = &request.filter;
    let next = page.rows.last().filter(|_| page.more).map(|last| {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        if let Some(s) = f.status {
            query.append_pair("status", s.as_str());
        }
        for (name, value) in [
            ("source", &f.source),
            ("check", &f.check_id),
            ("ticket", &f.ticket),
        ] {
            if let Some(v) = value {
                query.append_pair(name, v);
            }
        }
        query.append_pair(
            "cursor",
            &crate::api::findings::cursor_after(last.finding.id),
        );
        format!("/ui/findings?{}", query.finish())
    });
    let body = html! {
        form.filters method="get" action="/ui/findings" {
            label { "Status"
                select name="status" {
                    option value="" { "any" }
                    @for s in FindingStatus::ALL {
                        option value=(s) selected[f.status == Some(*s)] { (s) }
                    }
                }
            }
            label { "Source" input name="source" value=(f.source.as_deref().unwrap_or("")); }
            label { "Check" input name="check" value=(f.check_id.as_deref().unwrap_or("")); }
            label { "Ticket number" input name="ticket" placeholder="INC0010001" value=(f.ticket.as_deref().unwrap_or("")); }
            button type="submit" { "Filter" }
            a href="/ui/findings" { "Clear" }
        }
        @if page.rows.is_empty() {
            p.muted { "No finding matches." }
        } @else {
            table #findings {
                tr {
                    th { "id" } th { "status" } th { "ticket" } th { "source" } th { "check" }
                    th { "subject" } th { "title" } th.num { "seen" } th { "last seen" }
                }
                @for row in &page.rows {
                    @let finding = &row.finding;
                    tr {
                        td { a href={ "/ui/findings/" (finding.id) } { (finding.id) } }
                        td { (status(finding.status.as_str())) }
                        td { (ticket_cell(&state, row.ticket.as_ref())) }
                        td { (finding.source) }
                        td { (finding.check_id) }
                        td {
                            @if finding.is_group { span.muted { "the check's users (one ticket)" } }
                            @else { (finding.subject) }
                        }
                        td { a href={ "/ui/findings/" (finding.id) } { (finding.title) } }
                        td.num { (finding.occurrences) }
                        td { (when(finding.last_seen)) }
                    }
                }
            }
        }
        @if let Some(next) = next {
            p.pager { a #next-page href=(next) { "Older findings →" } }
        }
    };
    Ok(layout::page("Findings", Section::Findings, &operator, body))
}

/// The ticket's number, linked into the instance once it exists.
fn ticket_cell(state: &AppState, link: Option<&ticket_link::Model>) -> Markup {
    let Some(link) = link else {
        return html! { span.muted { "none" } };
    };
    let url = link
        .sys_id
        .as_deref()
        .and_then(|sys_id| state.servicenow.record_link(&link.table_name, sys_id));
    match (&link.number, url) {
        (Some(number), Some(url)) => html! { a.ticket href=(url) rel="noreferrer" { (number) } },
        (Some(number), None) => html! { (number) },
        (None, _) => html! { span.muted { "not created yet" } },
    }
}

/// `GET /ui/findings/{id}`.
pub async fn show(
    State(state): State<AppState>,
    operator: Operator,
    axum::extract::Path(id): axum::extract::Path<String>,
) -> Result<Markup, UiError> {
    let id: i64 = id
        .parse()
        .map_err(|_| UiError::BadRequest(format!("`{id}` is not a finding id")))?;
    let detail = queries::finding_detail(&state.intake.db, id)
        .await?
        .ok_or_else(|| UiError::NotFound(format!("no finding with id {id}")))?;
    let f = &detail.finding;
    let (notifications, rows): (Vec<&outbox::Model>, Vec<&outbox::Model>) = detail
        .outbox
        .iter()
        .partition(|r| r.op == OpKind::NotifySource);
    let body = html! {
        dl.facts #finding {
            dt { "status" } dd { (status(f.status.as_str()))
                @if let Some(by) = &f.resolved_by { " by " (by) } }
            @if let Some(decision) = &f.decision { dt { "decision" } dd { (decision) } }
            dt { "key" } dd { code { (f.finding_key) } }
            dt { "source" } dd { (f.source) " (" (f.kind) ")" }
            dt { "check" } dd { (f.check_id) }
            @if f.is_group {
                dt { "subject" } dd { "every user failing the check, listed on one ticket" }
            } @else {
                dt { "subject" } dd { (f.subject) }
            }
            @if let Some(group) = f.group_id {
                dt { "ticket of" } dd { a href={ "/ui/findings/" (group) } { "the check's group, finding " (group) } }
            }
            dt { "severity" } dd { (f.severity) }
            dt { "seen" } dd { (f.occurrences) " time(s), first " (when(f.first_seen)) ", last " (when(f.last_seen)) }
            dt { "rule, profile" } dd { (f.rule.as_deref().unwrap_or("-")) ", " (f.profile.as_deref().unwrap_or("-")) }
        }
        h2 { "Ticket" }
        @match &detail.ticket {
            None => p.muted { "No ticket: nothing was planned for this finding." },
            Some(t) => dl.facts #ticket {
                dt { "number" } dd { (ticket_cell(&state, Some(t))) }
                dt { "table" } dd { (t.table_name) }
                dt { "state" } dd { (t.state.as_deref().unwrap_or("-")) }
                dt { "sys_id" } dd { code { (t.sys_id.as_deref().unwrap_or("-")) } }
                dt { "correlation id" } dd { code { (t.correlation_id) } }
                dt { "last change seen" } dd { (t.sys_updated_on.as_deref().unwrap_or("-")) }
            },
        }
        h2 { "Outbox" }
        (rows_table(&rows))
        h2 { "Notifications to the source" }
        @if notifications.is_empty() {
            p.muted { "None: the ticket has not changed the finding." }
        } @else {
            table #notifications {
                tr { th { "row" } th { "event" } th { "status" } th { "attempts" } th { "last error" } }
                @for r in &notifications {
                    tr {
                        td { a href={ "/ui/outbox/" (r.id) } { (r.id) } }
                        td { (r.payload.get("event").and_then(|e| e.as_str()).unwrap_or("-")) }
                        td { (status(r.status.as_str())) }
                        td.num { (r.attempts) }
                        td { (r.last_error.as_deref().unwrap_or("")) }
                    }
                }
            }
        }
        h2 { "Audit" }
        table #audit {
            tr { th { "at" } th { "event" } th { "from" } th { "to" } th { "by" } th { "detail" } }
            @for a in &detail.audit {
                tr {
                    td { (when(a.at)) }
                    td { (a.event) }
                    td { (a.from_status.as_deref().unwrap_or("(new)")) }
                    td { (a.to_status) }
                    td { (a.actor) }
                    td { (a.detail.as_deref().unwrap_or("")) }
                }
            }
        }
        h2 { "As the source sent it" }
        pre { (serde_json::to_string_pretty(&f.payload).unwrap_or_default()) }
    };
    Ok(layout::page(
        &format!("Finding {id}: {}", f.title),
        Section::Findings,
        &operator,
        body,
    ))
}

/// Outbox rows with their errors, and a retry link for each dead one.
pub fn rows_table(rows: &[&outbox::Model]) -> Markup {
    html! {
        @if rows.is_empty() {
            p.muted { "No rows." }
        } @else {
            table.outbox {
                tr {
                    th { "row" } th { "finding" } th { "seq" } th { "op" } th { "status" }
                    th.num { "attempts" } th { "next attempt" } th { "last error" } th { "" }
                }
                @for r in rows {
                    tr id={ "row-" (r.id) } {
                        td { a href={ "/ui/outbox/" (r.id) } { (r.id) } }
                        td { a href={ "/ui/findings/" (r.finding_id) } { (r.finding_id) } }
                        td.num { (r.seq) }
                        td { (r.op) }
                        td { (status(r.status.as_str())) }
                        td.num { (r.attempts) }
                        td { (when(r.next_attempt_at)) }
                        td.last-error { (r.last_error.as_deref().unwrap_or("")) }
                        td {
                            @if r.status == RowStatus::Dead {
                                a.retry href={ "/ui/outbox/" (r.id) "/retry" } { "Retry…" }
                            }
                        }
                    }
                }
            }
        }
    }
}
