//! Seed data: accounts and people, groups, services, choice lists, the dictionary and the table
//! catalogue. Seeded sys_ids are derived from names, so they are the same on every start.
//! Runs once, before the emulator serves.

use sha2::{Digest, Sha256};

use super::SimConfig;
use super::db::Db;
use super::schema::Kind;
use super::write::{self, Actor, Input, WriteCtx};

/// sys_ids the emulator needs after seeding.
pub(crate) struct Seeded {
    pub help_desk: String,
}

/// A stable sys_id for a seeded record.
pub(crate) fn seed_id(key: &str) -> String {
    let digest = Sha256::digest(key.as_bytes());
    hex::encode(&digest[..16])
}

fn insert(
    db: &mut Db,
    table: &str,
    key: &str,
    fields: &[(&str, &str)],
    ctx: &WriteCtx<'_>,
) -> String {
    let sys_id = seed_id(&format!("{table}:{key}"));
    let mut input: Input = fields
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    input.push(("sys_id".to_owned(), sys_id.clone()));
    let schema = db.schema.clone();
    if let Some(def) = schema.table(table) {
        // Invariant: seed rows satisfy every rule; a failure would be a bug in this file.
        if let Err(e) = write::create(db, def, &input, ctx) {
            tracing::error!(table, key, error = ?e, "seed record refused");
        }
    }
    sys_id
}

/// Every choice list: (table, element, value, label, dependent value).
const CHOICES: &[(&str, &str, &str, &str, &str)] = &[
    ("incident", "state", "1", "New", ""),
    ("incident", "state", "2", "In Progress", ""),
    ("incident", "state", "3", "On Hold", ""),
    ("incident", "state", "6", "Resolved", ""),
    ("incident", "state", "7", "Closed", ""),
    ("incident", "state", "8", "Canceled", ""),
    ("incident", "incident_state", "1", "New", ""),
    ("incident", "incident_state", "2", "In Progress", ""),
    ("incident", "incident_state", "3", "On Hold", ""),
    ("incident", "incident_state", "6", "Resolved", ""),
    ("incident", "incident_state", "7", "Closed", ""),
    ("incident", "incident_state", "8", "Canceled", ""),
    // Open question 8: believed values.
    ("incident", "hold_reason", "1", "Awaiting Caller", ""),
    ("incident", "hold_reason", "3", "Awaiting Problem", ""),
    ("incident", "hold_reason", "4", "Awaiting Vendor", ""),
    ("incident", "hold_reason", "5", "Awaiting Change", ""),
    // Open question 9: the believed Tokyo+ list.
    ("incident", "close_code", "Duplicate", "Duplicate", ""),
    ("incident", "close_code", "Known error", "Known error", ""),
    (
        "incident",
        "close_code",
        "No resolution provided",
        "No resolution provided",
        "",
    ),
    (
        "incident",
        "close_code",
        "Resolved by caller",
        "Resolved by caller",
        "",
    ),
    (
        "incident",
        "close_code",
        "Resolved by change",
        "Resolved by change",
        "",
    ),
    (
        "incident",
        "close_code",
        "Resolved by problem",
        "Resolved by problem",
        "",
    ),
    (
        "incident",
        "close_code",
        "Resolved by request",
        "Resolved by request",
        "",
    ),
    (
        "incident",
        "close_code",
        "Solution provided",
        "Solution provided",
        "",
    ),
    (
        "incident",
        "close_code",
        "Workaround provided",
        "Workaround provided",
        "",
    ),
    ("incident", "close_code", "User error", "User error", ""),
    ("incident", "category", "inquiry", "Inquiry / Help", ""),
    ("incident", "category", "software", "Software", ""),
    ("incident", "category", "hardware", "Hardware", ""),
    ("incident", "category", "network", "Network", ""),
    ("incident", "category", "database", "Database", ""),
    ("incident", "category", "security", "Security", ""),
    ("incident", "subcategory", "email", "Email", "inquiry"),
    (
        "incident",
        "subcategory",
        "antivirus",
        "Antivirus",
        "inquiry",
    ),
    (
        "incident",
        "subcategory",
        "internal application",
        "Internal Application",
        "inquiry",
    ),
    ("incident", "subcategory", "vpn", "VPN", "network"),
    (
        "incident",
        "subcategory",
        "identity",
        "Identity",
        "security",
    ),
    ("incident", "subcategory", "access", "Access", "security"),
    ("incident", "notify", "1", "Do Not Notify", ""),
    ("incident", "notify", "2", "Send Email", ""),
    ("incident", "severity", "1", "1 - High", ""),
    ("incident", "severity", "2", "2 - Medium", ""),
    ("incident", "severity", "3", "3 - Low", ""),
    ("task", "impact", "1", "1 - High", ""),
    ("task", "impact", "2", "2 - Medium", ""),
    ("task", "impact", "3", "3 - Low", ""),
    ("task", "urgency", "1", "1 - High", ""),
    ("task", "urgency", "2", "2 - Medium", ""),
    ("task", "urgency", "3", "3 - Low", ""),
    ("task", "priority", "1", "1 - Critical", ""),
    ("task", "priority", "2", "2 - High", ""),
    ("task", "priority", "3", "3 - Moderate", ""),
    ("task", "priority", "4", "4 - Low", ""),
    ("task", "priority", "5", "5 - Planning", ""),
    ("task", "state", "-5", "Pending", ""),
    ("task", "state", "1", "Open", ""),
    ("task", "state", "2", "Work in Progress", ""),
    ("task", "state", "3", "Closed Complete", ""),
    ("task", "state", "4", "Closed Incomplete", ""),
    ("task", "state", "7", "Closed Skipped", ""),
    ("task", "approval", "not requested", "Not Yet Requested", ""),
    ("task", "approval", "requested", "Requested", ""),
    ("task", "approval", "approved", "Approved", ""),
    ("task", "approval", "rejected", "Rejected", ""),
    ("task", "approval", "cancelled", "Cancelled", ""),
    ("task", "approval", "not_required", "No Longer Required", ""),
    (
        "task",
        "upon_approval",
        "proceed",
        "Proceed to Next Task",
        "",
    ),
    (
        "task",
        "upon_approval",
        "do_nothing",
        "Wait for a User to Close this task",
        "",
    ),
    (
        "task",
        "upon_reject",
        "cancel",
        "Cancel all future Tasks",
        "",
    ),
    ("task", "upon_reject", "goto", "Go to a previous Task", ""),
    ("task", "escalation", "0", "Normal", ""),
    ("task", "escalation", "1", "Moderate", ""),
    ("task", "escalation", "2", "High", ""),
    ("task", "escalation", "3", "Overdue", ""),
    ("task", "contact_type", "email", "Email", ""),
    ("task", "contact_type", "phone", "Phone", ""),
    ("task", "contact_type", "self-service", "Self-service", ""),
    ("task", "contact_type", "walk-in", "Walk-in", ""),
    ("task", "contact_type", "integration", "Integration", ""),
    // Open question 10: believed request_state and stage values.
    (
        "sc_request",
        "request_state",
        "requested",
        "Pending Approval",
        "",
    ),
    ("sc_request", "request_state", "in_process", "Approved", ""),
    (
        "sc_request",
        "request_state",
        "closed_complete",
        "Closed Complete",
        "",
    ),
    (
        "sc_request",
        "request_state",
        "closed_incomplete",
        "Closed Incomplete",
        "",
    ),
    (
        "sc_request",
        "request_state",
        "closed_cancelled",
        "Closed Cancelled",
        "",
    ),
    (
        "sc_request",
        "request_state",
        "closed_rejected",
        "Closed Rejected",
        "",
    ),
    (
        "sc_request",
        "request_state",
        "closed_skipped",
        "Closed Skipped",
        "",
    ),
    ("sc_request", "stage", "requested", "Requested", ""),
    ("sc_request", "stage", "fulfillment", "Fulfillment", ""),
    (
        "sc_request",
        "stage",
        "closed_complete",
        "Closed Complete",
        "",
    ),
    (
        "sc_request",
        "stage",
        "closed_incomplete",
        "Closed Incomplete",
        "",
    ),
    // Open question 12: believed approval states.
    (
        "sysapproval_approver",
        "state",
        "not requested",
        "Not Yet Requested",
        "",
    ),
    (
        "sysapproval_approver",
        "state",
        "requested",
        "Requested",
        "",
    ),
    ("sysapproval_approver", "state", "approved", "Approved", ""),
    ("sysapproval_approver", "state", "rejected", "Rejected", ""),
    (
        "sysapproval_approver",
        "state",
        "cancelled",
        "Cancelled",
        "",
    ),
    (
        "sysapproval_approver",
        "state",
        "not_required",
        "No Longer Required",
        "",
    ),
    ("label", "type", "standard", "Standard", ""),
    ("label", "viewable_by", "me", "Me", ""),
    ("label", "viewable_by", "everyone", "Everyone", ""),
    (
        "cmdb_ci_service",
        "operational_status",
        "1",
        "Operational",
        "",
    ),
    (
        "cmdb_ci_service",
        "operational_status",
        "2",
        "Non-Operational",
        "",
    ),
];

/// Fills an empty store.
pub(crate) fn seed(db: &mut Db, config: &SimConfig, now: &str) -> Seeded {
    let system = Actor::system();
    let ctx = WriteCtx {
        actor: &system,
        now: now.to_owned(),
        input_display: false,
        system: true,
        approver: "",
        deny_label_entry: false,
    };
    let person = |a: &super::Account| {
        let (first, last) = a.name.split_once(' ').unwrap_or((a.name.as_str(), ""));
        (
            a.user_name.clone(),
            a.name.clone(),
            first.to_owned(),
            last.to_owned(),
            a.time_zone.clone(),
        )
    };
    let mut help_desk = String::new();
    for (n, account) in [&config.integration, &config.help_desk]
        .into_iter()
        .enumerate()
    {
        let (user, name, first, last, tz) = person(account);
        let email = format!("{user}@example.com");
        let id = insert(
            db,
            "sys_user",
            &user,
            &[
                ("user_name", &user),
                ("name", &name),
                ("first_name", &first),
                ("last_name", &last),
                ("email", &email),
                ("time_zone", &tz),
            ],
            &ctx,
        );
        if n == 1 {
            help_desk = id;
        }
    }
    // People without sign-in: callers and assignees for tests to point at.
    for (user, first, last) in [
        ("abel.tuter", "Abel", "Tuter"),
        ("joe.employee", "Joe", "Employee"),
        ("david.loo", "David", "Loo"),
    ] {
        let name = format!("{first} {last}");
        let email = format!("{user}@example.com");
        insert(
            db,
            "sys_user",
            user,
            &[
                ("user_name", user),
                ("name", &name),
                ("first_name", first),
                ("last_name", last),
                ("email", &email),
                ("time_zone", "Etc/GMT+7"),
            ],
            &ctx,
        );
    }
    // Two groups share the name "Hardware", as happens on real instances: looking a group up
    // by name must cope with several matches.
    for (key, name, description) in [
        ("service-desk", "Service Desk", "First line support"),
        ("network", "Network", "Network operations"),
        (
            "security-operations",
            "Security Operations",
            "Security incident handling",
        ),
        (
            "identity-access",
            "Identity and Access",
            "Identity and access management",
        ),
        ("hardware-1", "Hardware", "Hardware support, EMEA"),
        ("hardware-2", "Hardware", "Hardware support, Americas"),
    ] {
        insert(
            db,
            "sys_user_group",
            key,
            &[("name", name), ("description", description)],
            &ctx,
        );
    }
    for name in [
        "Email",
        "Identity Management",
        "VPN",
        "SAP Enterprise Services",
    ] {
        insert(db, "cmdb_ci_service", name, &[("name", name)], &ctx);
    }
    for (n, (table, element, value, label, dependent)) in CHOICES.iter().enumerate() {
        let sequence = n.to_string();
        insert(
            db,
            "sys_choice",
            &format!("{table}.{element}.{value}"),
            &[
                ("name", table),
                ("element", element),
                ("value", value),
                ("label", label),
                ("dependent_value", dependent),
                ("sequence", &sequence),
                ("inactive", "false"),
                ("language", "en"),
            ],
            &ctx,
        );
    }
    seed_catalogue(db, &ctx);
    Seeded { help_desk }
}

/// sys_db_object rows and sys_dictionary rows (one per table definition and per field, on the
/// table that defines it, so incident's own fields and task's inherited ones come apart).
fn seed_catalogue(db: &mut Db, ctx: &WriteCtx<'_>) {
    let schema = db.schema.clone();
    let mut tables: Vec<_> = schema.tables().collect();
    tables.sort_by_key(|t| t.name);
    let task_id = insert(
        db,
        "sys_db_object",
        "task",
        &[
            ("name", "task"),
            ("label", "Task"),
            ("is_extendable", "true"),
        ],
        ctx,
    );
    let mut seen = std::collections::HashSet::new();
    let collection = |db: &mut Db, name: &str| {
        insert(
            db,
            "sys_dictionary",
            &format!("{name}."),
            &[
                ("name", name),
                ("element", ""),
                ("column_label", ""),
                ("internal_type", "collection"),
                ("max_length", "40"),
                ("mandatory", "false"),
                ("active", "true"),
                ("read_only", "false"),
                ("choice", "0"),
            ],
            ctx,
        );
    };
    collection(db, "task");
    for t in tables {
        let parent = if t.is_task() { task_id.as_str() } else { "" };
        insert(
            db,
            "sys_db_object",
            t.name,
            &[
                ("name", t.name),
                ("label", t.label),
                ("super_class", parent),
                ("is_extendable", "false"),
            ],
            ctx,
        );
        collection(db, t.name);
        for f in &t.fields {
            if !seen.insert((f.defined_on, f.name)) {
                continue;
            }
            let max_length = f.max_length.to_string();
            let reference = match f.kind {
                Kind::Reference(r) | Kind::NameReference(r) => r,
                Kind::DomainId => "sys_user_group",
                _ => "",
            };
            let choice = if matches!(f.kind, Kind::Choice { .. }) {
                "1"
            } else {
                "0"
            };
            let read_only = if f.name.starts_with("sys_") || f.name == "number" {
                "true"
            } else {
                "false"
            };
            insert(
                db,
                "sys_dictionary",
                &format!("{}.{}", f.defined_on, f.name),
                &[
                    ("name", f.defined_on),
                    ("element", f.name),
                    ("column_label", f.label),
                    ("internal_type", f.kind.internal_type(f.name)),
                    ("max_length", &max_length),
                    ("mandatory", "false"),
                    ("reference", reference),
                    ("active", "true"),
                    ("read_only", read_only),
                    ("choice", choice),
                ],
                ctx,
            );
        }
    }
}
