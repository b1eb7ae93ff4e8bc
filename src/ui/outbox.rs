//! The outbox: dead, pending, in-flight or delivered rows with their last error; a row's
//! page with its payload; and the retries, each behind a confirmation page, revived
//! through `admin::retry` with payloads rendered again from the current mappings.

use axum::Form;
use axum::extract::{Path, RawQuery, State};
use maud::{Markup, html};
use serde::Deserialize;

use super::layout::{self, Section, csrf, status, when};
use super::{Operator, UiError};
use crate::admin::retry;
use crate::api::AppState;
use crate::store::outbox::{self, RowStatus};
use crate::store::queries::{self, OutboxFilter};

/// The console's page size.
const PAGE: u64 = 100;

fn parse_id(text: &str) -> Result<i64, UiError> {
    text.parse()
        .map_err(|_| UiError::BadRequest(format!("`{text}` is not an outbox row id")))
}

/// `GET /ui/outbox?status=dead|pending|in_flight|done|all&cursor=`: dead rows by default.
pub async fn list(
    State(state): State<AppState>,
    operator: Operator,
    RawQuery(query): RawQuery,
) -> Result<Markup, UiError> {
    let pairs = crate::api::query_pairs_for_ui(query.as_deref(), &["status", "cursor"])?;
    let shown = pairs.get("status").map(String::as_str).unwrap_or("dead");
    let state_filter = match shown {
        "all" => None,
        text => Some(
            text.parse::<RowStatus>()
                .map_err(|e| UiError::BadRequest(e.to_string()))?,
        ),
    };
    let before = pairs
        .get("cursor")
        .map(|c| crate::api::findings::cursor_id(c))
        .transpose()?;
    let filter = OutboxFilter {
        status: state_filter,
        ..OutboxFilter::default()
    };
    let page = queries::outbox_page(&state.intake.db, &filter, before, PAGE).await?;
    let dead = outbox::dead_ids(&state.intake.db, None, None).await?.len();
    let rows: Vec<_> = page.rows.iter().collect();
    let next = page.rows.last().filter(|_| page.more).map(|last| {
        format!(
            "/ui/outbox?status={shown}&cursor={}",
            crate::api::findings::cursor_after(last.id)
        )
    });
    let body = html! {
        nav.tabs {
            @for tab in ["dead", "pending", "in_flight", "done", "all"] {
                a href={ "/ui/outbox?status=" (tab) } class=[(tab == shown).then_some("current")] { (tab) }
            }
        }
        @if dead > 0 {
            p {
                (dead) " dead row(s). A row goes dead when ServiceNow refuses its content (a 400 naming a field, a 403, a 404) or a reference matches no record: fix the mapping, then retry; the payload is rendered again from the current mappings. "
                a.button #retry-all href="/ui/outbox/retry-dead" { "Retry all dead rows…" }
            }
        }
        (super::findings::rows_table(&rows))
        @if let Some(next) = next {
            p.pager { a href=(next) { "Older rows →" } }
        }
    };
    Ok(layout::page("Outbox", Section::Outbox, &operator, body))
}

/// `GET /ui/outbox/{id}`.
pub async fn show(
    State(state): State<AppState>,
    operator: Operator,
    Path(id): Path<String>,
) -> Result<Markup, UiError> {
    let id = parse_id(&id)?;
    let r = outbox::get(&state.intake.db, id)
        .await?
        .ok_or_else(|| UiError::NotFound(format!("no outbox row with id {id}")))?;
    let body = html! {
        dl.facts #row {
            dt { "finding" } dd { a href={ "/ui/findings/" (r.finding_id) } { (r.finding_id) } " (seq " (r.seq) ")" }
            dt { "op" } dd { (r.op) }
            dt { "status" } dd { (status(r.status.as_str())) }
            dt { "attempts" } dd { (r.attempts) " (" (r.outage_attempts) " more during outages, not counted)" }
            dt { "next attempt" } dd { (when(r.next_attempt_at)) }
            dt { "maybe applied" } dd { (r.maybe_applied) }
            dt { "last error" } dd.last-error { (r.last_error.as_deref().unwrap_or("-")) }
            dt { "created, changed" } dd { (when(r.created_at)) ", " (when(r.updated_at)) }
        }
        @if r.status == RowStatus::Dead {
            p { a.retry href={ "/ui/outbox/" (r.id) "/retry" } { "Retry this row…" } }
        }
        h2 { "Payload, as it will be sent" }
        pre #payload { (serde_json::to_string_pretty(&r.payload).unwrap_or_default()) }
    };
    Ok(layout::page(
        &format!("Outbox row {id}"),
        Section::Outbox,
        &operator,
        body,
    ))
}

/// `GET /ui/outbox/{id}/retry`: what a retry will do, and the button that does it.
pub async fn confirm_one(
    State(state): State<AppState>,
    operator: Operator,
    Path(id): Path<String>,
) -> Result<Markup, UiError> {
    let id = parse_id(&id)?;
    let r = outbox::get(&state.intake.db, id)
        .await?
        .ok_or_else(|| UiError::NotFound(format!("no outbox row with id {id}")))?;
    let body = html! {
        @if r.status != RowStatus::Dead {
            p.notice { "Row " (id) " is " (r.status) ", not dead: there is nothing to retry." }
        } @else {
            p { "Row " (id) " (" (r.op) " of finding " a href={ "/ui/findings/" (r.finding_id) } { (r.finding_id) } ") is dead:" }
            p.error { (r.last_error.as_deref().unwrap_or("(no error recorded)")) }
            p { "Retrying renders its payload again from the current mappings and makes it due now, with its attempts reset." }
            form method="post" action={ "/ui/outbox/" (id) "/retry" } {
                (csrf(&operator))
                button #confirm type="submit" { "Retry row " (id) }
                " "
                a href={ "/ui/outbox/" (id) } { "Cancel" }
            }
        }
    };
    Ok(layout::page(
        &format!("Retry outbox row {id}?"),
        Section::Outbox,
        &operator,
        body,
    ))
}

#[derive(Deserialize)]
pub struct CsrfOnly {
    #[serde(default)]
    csrf: String,
}

fn outcomes_page(operator: &Operator, title: &str, outcomes: &[(i64, retry::Outcome)]) -> Markup {
    let body = html! {
        @if outcomes.is_empty() {
            p.notice { "No dead rows: nothing to retry." }
        }
        ul #outcomes {
            @for (id, outcome) in outcomes {
                li class=(if outcome.revived() { "revived" } else { "not-revived" }) {
                    a href={ "/ui/outbox/" (id) } { "Row " (id) } ": " (outcome.to_string())
                }
            }
        }
        p { a href="/ui/outbox?status=pending" { "See the pending rows" } " · " a href="/ui/outbox?status=dead" { "See the dead rows" } }
    };
    layout::page(title, Section::Outbox, operator, body)
}

/// `POST /ui/outbox/{id}/retry`.
pub async fn retry_one(
    State(state): State<AppState>,
    operator: Operator,
    Path(id): Path<String>,
    Form(form): Form<CsrfOnly>,
) -> Result<Markup, UiError> {
    operator.check_csrf(&form.csrf)?;
    let id = parse_id(&id)?;
    let pipeline = state.intake.pipeline.current();
    let outcome = retry::row(
        &state.intake.db,
        id,
        &pipeline.mappings,
        &pipeline.templates,
    )
    .await?;
    if outcome.revived() {
        state.intake.wake.notify_waiters();
    }
    tracing::info!(outbox.id = id, outcome = %outcome, "console: outbox retry");
    Ok(outcomes_page(
        &operator,
        &format!("Retry of outbox row {id}"),
        &[(id, outcome)],
    ))
}

/// `GET /ui/outbox/retry-dead`: how many rows a retry of all dead rows touches.
pub async fn confirm_dead(
    State(state): State<AppState>,
    operator: Operator,
) -> Result<Markup, UiError> {
    let dead = outbox::dead_ids(&state.intake.db, None, None).await?.len();
    let body = html! {
        @if dead == 0 {
            p.notice { "No dead rows: nothing to retry." }
        } @else {
            p { "Retry all " (dead) " dead row(s)? Each payload is rendered again from the current mappings and made due now, in delivery order." }
            form method="post" action="/ui/outbox/retry-dead" {
                (csrf(&operator))
                button #confirm type="submit" { "Retry " (dead) " dead row(s)" }
                " "
                a href="/ui/outbox?status=dead" { "Cancel" }
            }
        }
    };
    Ok(layout::page(
        "Retry all dead rows?",
        Section::Outbox,
        &operator,
        body,
    ))
}

/// `POST /ui/outbox/retry-dead`.
pub async fn retry_dead(
    State(state): State<AppState>,
    operator: Operator,
    Form(form): Form<CsrfOnly>,
) -> Result<Markup, UiError> {
    operator.check_csrf(&form.csrf)?;
    let pipeline = state.intake.pipeline.current();
    let outcomes = retry::dead(
        &state.intake.db,
        None,
        None,
        &pipeline.mappings,
        &pipeline.templates,
    )
    .await?;
    if outcomes.iter().any(|(_, o)| o.revived()) {
        state.intake.wake.notify_waiters();
    }
    tracing::info!(rows = outcomes.len(), "console: retry of all dead rows");
    Ok(outcomes_page(
        &operator,
        "Retry of all dead rows",
        &outcomes,
    ))
}
