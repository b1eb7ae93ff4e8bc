//! Request approvals: a new request gets an approval for the configured approver, and the
//! request's approval, request_state and stage follow its approval records.

use super::{get, set};
use crate::sim::db::Db;
use crate::sim::schema::TableDef;
use crate::sim::write::{self, Actor, WriteCtx};

/// Side effects after a record is stored.
pub(crate) fn after(
    db: &mut Db,
    def: &TableDef,
    old: Option<&[String]>,
    new: &[String],
    ctx: &WriteCtx<'_>,
) {
    match def.name {
        "sc_request"
            if old.is_none()
                && get(def, new, "approval") == "requested"
                && !ctx.approver.is_empty() =>
        {
            request_approver(db, def, new, ctx);
        }
        "sysapproval_approver" => {
            let request = get(def, new, "sysapproval").to_owned();
            sync_request_approval(db, &request, ctx);
        }
        _ => {}
    }
}

/// Side effects after a record is deleted.
pub(crate) fn after_delete(db: &mut Db, def: &TableDef, old: &[String], ctx: &WriteCtx<'_>) {
    if def.name == "sysapproval_approver" {
        let request = get(def, old, "sysapproval").to_owned();
        sync_request_approval(db, &request, ctx);
    }
}

/// The approval workflow of a new request: one approval for the configured approver.
fn request_approver(db: &mut Db, def: &TableDef, request: &[String], ctx: &WriteCtx<'_>) {
    let schema = db.schema.clone();
    let Some(adef) = schema.table("sysapproval_approver") else {
        return;
    };
    let sys_id = get(def, request, "sys_id").to_owned();
    let system = Actor::system();
    let sys_ctx = WriteCtx {
        actor: &system,
        system: true,
        input_display: false,
        ..ctx.clone()
    };
    let input = vec![
        ("approver".to_owned(), ctx.approver.to_owned()),
        ("sysapproval".to_owned(), sys_id.clone()),
        ("document_id".to_owned(), sys_id),
        ("source_table".to_owned(), def.name.to_owned()),
        ("state".to_owned(), "requested".to_owned()),
    ];
    let _ = write::create(db, adef, &input, &sys_ctx);
}

/// A request's approval follows its approvals: any rejection rejects it; once every approval
/// is decided and one approved, it is approved. The change is the approver's update.
fn sync_request_approval(db: &mut Db, request_id: &str, ctx: &WriteCtx<'_>) {
    let schema = db.schema.clone();
    let (Some(adef), Some(approvals)) = (
        schema.table("sysapproval_approver"),
        db.table("sysapproval_approver"),
    ) else {
        return;
    };
    let states: Vec<String> = approvals
        .rows()
        .filter(|r| get(adef, r, "sysapproval") == request_id)
        .map(|r| get(adef, r, "state").to_owned())
        .collect();
    let decided = |s: &String| matches!(s.as_str(), "approved" | "not_required" | "cancelled");
    let approval = if states.iter().any(|s| s == "rejected") {
        "rejected"
    } else if !states.is_empty()
        && states.iter().all(decided)
        && states.iter().any(|s| s == "approved")
    {
        "approved"
    } else if states.iter().any(|s| s == "requested") {
        "requested"
    } else {
        return;
    };
    let targets = schema.reference_targets("task");
    let Some((table, row)) = db.get_any(&targets, request_id) else {
        return;
    };
    let Some(def) = schema.table(table) else {
        return;
    };
    if get(def, row, "approval") == approval {
        return;
    }
    let mut values = row.clone();
    set(def, &mut values, "approval", approval);
    set(def, &mut values, "approval_set", ctx.now.clone());
    let (request_state, stage) = match approval {
        "approved" => ("in_process", "fulfillment"),
        "rejected" => ("closed_rejected", "closed_incomplete"),
        _ => ("requested", "requested"),
    };
    if def.name == "sc_request" {
        set(def, &mut values, "request_state", request_state);
        set(def, &mut values, "stage", stage);
        if approval == "rejected" {
            set(def, &mut values, "state", "4");
            set(def, &mut values, "active", "false");
            set(def, &mut values, "closed_at", ctx.now.clone());
            set(def, &mut values, "closed_by", ctx.actor.sys_id.clone());
        }
    }
    write::touch(def, &mut values, ctx);
    let _ = db.replace(table, values);
}
