//! `GET /v1/findings/{id}`: a finding with its ticket and outbox rows.

use axum::Json;
use axum::extract::{Path, State};
use serde_json::json;

use super::{ApiError, AppState};
use crate::store::{findings, outbox};

pub async fn show(
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let db = &state.intake.db;
    let f = findings::get(db, id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no finding with id {id}")))?;
    let ticket = findings::link(db, id).await?.map(|l| {
        json!({"table": l.table_name, "sys_id": l.sys_id, "number": l.number, "state": l.state,
               "correlation_id": l.correlation_id, "sys_mod_count": l.sys_mod_count, "sys_updated_on": l.sys_updated_on})
    });
    let rows: Vec<_> = outbox::of_finding(db, id)
        .await?
        .into_iter()
        .map(|r| json!({"id": r.id, "seq": r.seq, "op": r.op, "status": r.status, "attempts": r.attempts, "last_error": r.last_error}))
        .collect();
    Ok(Json(json!({
        "id": f.id, "key": f.finding_key, "status": f.status, "resolved_by": f.resolved_by, "decision": f.decision,
        "source": f.source, "kind": f.kind, "check_id": f.check_id, "subject": f.subject, "title": f.title,
        "severity": f.severity, "occurrences": f.occurrences, "first_seen": f.first_seen, "last_seen": f.last_seen,
        "rule": f.rule, "profile": f.profile, "ticket": ticket, "outbox": rows, "finding": f.payload,
    })))
}
