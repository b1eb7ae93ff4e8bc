//! The overview: findings by status, the outbox by state, the oldest owed row, dead rows,
//! the poller, whether ServiceNow answers, and the last errors.

use axum::extract::State;
use chrono::Utc;
use maud::{Markup, html};

use super::layout::{self, Section, age, status, when};
use super::{Operator, UiError};
use crate::admin::overview;
use crate::api::AppState;
use crate::store::outbox::RowStatus;

/// `GET /ui`.
pub async fn page(State(state): State<AppState>, operator: Operator) -> Result<Markup, UiError> {
    let o = overview::read(&state.intake.db, &state.servicenow, state.poller_interval).await?;
    let now = Utc::now();
    let dead = o.dead();
    let body = html! {
        @if dead > 0 {
            p.error #dead-warning {
                (dead) " outbox row(s) are dead and will not be sent until retried. "
                a href="/ui/outbox?status=dead" { "See the dead rows" }
            }
        }
        div.cards {
            div.card #findings-by-status {
                h2 { "Findings" }
                table {
                    @for (s, n) in &o.findings {
                        tr {
                            td { a href={ "/ui/findings?status=" (s) } { (status(s.as_str())) } }
                            td.num { (n) }
                        }
                    }
                }
            }
            div.card #outbox-by-state {
                h2 { "Outbox" }
                table {
                    @for (s, n) in &o.outbox {
                        tr {
                            td { a href={ "/ui/outbox?status=" (s) } { (status(s.as_str())) } }
                            td.num { (n) }
                        }
                    }
                }
                p.muted {
                    "Oldest row owed: "
                    @match o.oldest_pending {
                        Some(at) => { (age(now - at)) " old (since " (when(at)) ")" }
                        None => { "none" }
                    }
                }
            }
            div.card #servicenow {
                h2 { "ServiceNow" }
                @match &o.servicenow {
                    Ok(()) => { p { (status("ok")) " answers at " (state.servicenow.instance_url().as_str()) } }
                    Err(why) => {
                        p { (status("unreachable")) " " (state.servicenow.instance_url().as_str()) }
                        p.error { (why) }
                    }
                }
            }
            div.card #poller {
                h2 { "Poller" }
                @match o.poller.interval {
                    Some(interval) => p { "On in this process, every " (humantime::format_duration(interval)) "." }
                    None => p.muted { "Off in this process (poller.enabled = false)." }
                }
                @if let Some((holder, until)) = &o.poller.holder {
                    p { "Lease held by " code { (holder) } " until " (when(*until)) "." }
                }
                @if let Some(last) = o.poller.last_run {
                    p { "Last cycle started " (age(now - last)) " ago." }
                }
                @if o.poller.watermarks.is_empty() {
                    p.muted { "No watermark yet: no poll has applied a change." }
                } @else {
                    table {
                        tr { th { "table" } th { "watermark" } th { "lag" } }
                        @for (table, at) in &o.poller.watermarks {
                            tr { td { (table) } td { (when(*at)) } td { (age(now - *at)) } }
                        }
                    }
                }
            }
        }
        h2 { "Last errors" }
        @if o.recent_errors.is_empty() {
            p.muted { "No owed or dead row carries an error." }
        } @else {
            table #recent-errors {
                tr { th { "row" } th { "finding" } th { "op" } th { "status" } th { "changed" } th { "error" } }
                @for r in &o.recent_errors {
                    tr {
                        td { a href={ "/ui/outbox/" (r.id) } { (r.id) } }
                        td { a href={ "/ui/findings/" (r.finding_id) } { (r.finding_id) } }
                        td { (r.op) }
                        td { (status(r.status.as_str())) }
                        td { (when(r.updated_at)) }
                        td { (r.last_error.as_deref().unwrap_or("")) }
                    }
                }
            }
        }
        @if o.outbox.iter().any(|(s, n)| *s == RowStatus::Dead && *n > 0) {
            p { a href="/ui/outbox?status=dead" { "Review and retry dead rows" } }
        }
    };
    Ok(layout::page("Overview", Section::Overview, &operator, body))
}
