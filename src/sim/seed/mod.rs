//! Seed data: accounts and people, groups, services, choice lists, the dictionary and the table
//! catalogue. Seeded sys_ids are derived from names, so they are the same on every start.
//! Runs once, before the emulator serves.

use sha2::{Digest, Sha256};

mod choices;

use choices::CHOICES;

use crate::sim::SimConfig;
use crate::sim::db::Db;
use crate::sim::schema::Kind;
use crate::sim::write::{self, Actor, Input, WriteCtx};

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
        // Seed rows satisfy every rule: a refusal is a bug in this file, logged, not fatal.
        if let Err(e) = write::create(db, def, &input, ctx) {
            tracing::error!(table, key, error = ?e, "seed record refused");
        }
    }
    sys_id
}

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
    let finance = insert(
        db,
        "cmn_department",
        "finance",
        &[("name", "Finance")],
        &ctx,
    );
    let it = insert(db, "cmn_department", "it", &[("name", "IT")], &ctx);
    let san_diego = insert(
        db,
        "cmn_location",
        "san-diego",
        &[
            ("name", "San Diego"),
            ("city", "San Diego"),
            ("country", "USA"),
        ],
        &ctx,
    );
    // People without sign-in: callers and assignees for tests to point at, with the details
    // a digest fills from the instance (department, location, phone, manager).
    let mut manager = String::new();
    for (user, first, last, department, phone) in [
        ("david.loo", "David", "Loo", &it, "+1 858 555 0101"),
        ("abel.tuter", "Abel", "Tuter", &finance, "+1 858 555 0102"),
        ("joe.employee", "Joe", "Employee", &finance, ""),
    ] {
        let name = format!("{first} {last}");
        let email = format!("{user}@example.com");
        let id = insert(
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
                ("phone", phone),
                ("department", department),
                ("location", &san_diego),
                ("manager", &manager),
            ],
            &ctx,
        );
        if manager.is_empty() {
            manager = id;
        }
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
        // A plugin's choices come with its table.
        if *table != "task" && db.schema.table(table).is_none() {
            continue;
        }
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
