//! Creating, updating and deleting records the way the Table API does: client values turned
//! into stored strings, journals appended, sys fields kept, then the business rules in `rules`.
//! It knows nothing of HTTP; callers hold the write lock.

use super::clock;
use super::db::{Db, DbError};
use super::error::SnError;
use super::rules;
use super::schema::{Kind, TableDef};

/// Who is writing, as the rules and the sys fields need it.
#[derive(Debug, Clone)]
pub(crate) struct Actor {
    pub user_name: String,
    pub sys_id: String,
    /// Offset from UTC of the user's time zone, for `sysparm_input_display_value` dates.
    pub tz_offset: i64,
}

impl Actor {
    /// The platform itself, for seed data and rule side effects no user made.
    pub(crate) fn system() -> Self {
        Self {
            user_name: "system".into(),
            sys_id: String::new(),
            tz_offset: 0,
        }
    }
}

/// One write's circumstances.
#[derive(Debug, Clone)]
pub(crate) struct WriteCtx<'a> {
    pub actor: &'a Actor,
    pub now: String,
    /// `sysparm_input_display_value=true`.
    pub input_display: bool,
    /// Seeding: skips ACLs and takes sys fields as given.
    pub system: bool,
    /// The sys_id of the user asked to approve new requests.
    pub approver: &'a str,
    /// Whether label_entry writes are refused, as on instances that keep them for `maint`.
    pub deny_label_entry: bool,
}

/// Field values as the client sent them, already turned into strings.
pub(crate) type Input = Vec<(String, String)>;

/// A new sys_id: 32 lowercase hex characters.
pub(crate) fn new_sys_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

fn is_sys_id(v: &str) -> bool {
    v.len() == 32
        && v.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

fn check_writable(def: &TableDef, ctx: &WriteCtx<'_>) -> Result<(), SnError> {
    if ctx.system {
        return Ok(());
    }
    if def.read_only || (ctx.deny_label_entry && def.name == "label_entry") {
        return Err(SnError::api_acl());
    }
    Ok(())
}

/// Inserts a record and returns its stored values.
pub(crate) fn create(
    db: &mut Db,
    def: &TableDef,
    input: &Input,
    ctx: &WriteCtx<'_>,
) -> Result<Vec<String>, SnError> {
    check_writable(def, ctx)?;
    let mut values = vec![String::new(); def.fields.len()];
    rules::defaults(db, def, &mut values, ctx);
    let (journal, cut) = apply(db, def, &mut values, input, ctx, true);
    rules::before(db, def, None, &mut values, ctx)?;
    db.insert(def.name, values.clone()).map_err(|_| {
        SnError::bad_request(
            "Operation Failed",
            "A record with this sys_id already exists",
        )
    })?;
    append_journal(db, def, &values, &journal, ctx);
    count_cut(db, def, &cut);
    rules::after(db, def, None, &values, ctx);
    Ok(values)
}

/// Updates the fields in `input` (PUT and PATCH alike) and returns the stored values.
pub(crate) fn update(
    db: &mut Db,
    def: &TableDef,
    sys_id: &str,
    input: &Input,
    ctx: &WriteCtx<'_>,
) -> Result<Vec<String>, SnError> {
    check_writable(def, ctx)?;
    let old = db
        .get(def.name, sys_id)
        .cloned()
        .ok_or_else(SnError::not_found)?;
    if !ctx.system {
        rules::guard_update(def, &old)?;
    }
    let mut values = old.clone();
    let (journal, cut) = apply(db, def, &mut values, input, ctx, false);
    rules::before(db, def, Some(&old), &mut values, ctx)?;
    // An update that changes nothing is not written, so it does not count as a modification.
    if values == old && journal.is_empty() {
        return Ok(values);
    }
    touch(def, &mut values, ctx);
    db.replace(def.name, values.clone())
        .map_err(|_| SnError::not_found())?;
    append_journal(db, def, &values, &journal, ctx);
    count_cut(db, def, &cut);
    rules::after(db, def, Some(&old), &values, ctx);
    Ok(values)
}

/// Deletes a record.
pub(crate) fn delete(
    db: &mut Db,
    def: &TableDef,
    sys_id: &str,
    ctx: &WriteCtx<'_>,
) -> Result<(), SnError> {
    check_writable(def, ctx)?;
    match db.delete(def.name, sys_id) {
        Ok(old) => {
            rules::after_delete(db, def, &old, ctx);
            Ok(())
        }
        Err(DbError::NotFound | DbError::UnknownTable | DbError::DuplicateSysId) => {
            Err(SnError::not_found())
        }
    }
}

/// Marks a record as modified by the acting user: every write, journal-only ones included.
pub(crate) fn touch(def: &TableDef, values: &mut [String], ctx: &WriteCtx<'_>) {
    let count = def.sys("sys_mod_count");
    let n: u64 = values[count].parse().unwrap_or(0);
    values[count] = (n + 1).to_string();
    values[def.sys("sys_updated_on")] = ctx.now.clone();
    values[def.sys("sys_updated_by")] = ctx.actor.user_name.clone();
}

/// Fields a client never sets: the platform keeps them.
fn platform_owned(def: &TableDef, name: &str) -> bool {
    matches!(
        name,
        "sys_created_on"
            | "sys_created_by"
            | "sys_updated_on"
            | "sys_updated_by"
            | "sys_mod_count"
            | "sys_class_name"
            | "sys_tags"
            | "sys_domain_path"
            | "comments_and_work_notes"
            | "approval_history"
    ) || (matches!(def.name, "incident" | "sn_si_incident") && name == "priority")
}

fn count_cut(db: &mut Db, def: &TableDef, cut: &[usize]) {
    for i in cut {
        db.count_cut(def.name, def.fields[*i].name);
    }
}

/// Copies client values into `values`; returns the journal entries to append and the fields
/// whose value was cut to the column's length.
fn apply(
    db: &Db,
    def: &TableDef,
    values: &mut [String],
    input: &Input,
    ctx: &WriteCtx<'_>,
    creating: bool,
) -> (Vec<(usize, String)>, Vec<usize>) {
    let mut journal = Vec::new();
    let mut cut = Vec::new();
    for (name, raw) in input {
        // Fields the table does not have are ignored, as on a real instance.
        let Some(i) = def.idx(name) else { continue };
        let field = &def.fields[i];
        if name == "sys_id" {
            if creating && is_sys_id(raw) && db.get(def.name, raw).is_none() {
                values[i] = raw.clone();
            }
            continue;
        }
        if !ctx.system && platform_owned(def, name) {
            continue;
        }
        if field.kind == Kind::Journal {
            if !raw.trim().is_empty() {
                journal.push((i, raw.clone()));
            }
            continue;
        }
        let mut v = if ctx.input_display {
            from_display(db, def, i, raw, ctx)
        } else {
            raw.clone()
        };
        // Longer text is cut to the column's length, as the database column holds no more.
        if let Some((at, _)) = v.char_indices().nth(field.max_length as usize) {
            v.truncate(at);
            cut.push(i);
        }
        values[i] = v;
    }
    (journal, cut)
}

/// `sysparm_input_display_value=true`: a display value turned into what is stored.
fn from_display(db: &Db, def: &TableDef, i: usize, raw: &str, ctx: &WriteCtx<'_>) -> String {
    let field = &def.fields[i];
    match field.kind {
        Kind::Reference(target) => {
            let targets = db.schema.reference_targets(target);
            for t in &targets {
                let Some(tdef) = db.schema.table(t) else {
                    continue;
                };
                if let Some(row) = db.find(t, tdef.display_field, raw) {
                    return row[tdef.sys("sys_id")].clone();
                }
            }
            if db.get_any(&targets, raw).is_some() {
                return raw.to_owned();
            }
            // No record has that display value: the reference is left empty (believed).
            String::new()
        }
        Kind::Choice { .. } => {
            choice_value(db, def, field.name, raw).unwrap_or_else(|| raw.to_owned())
        }
        Kind::DateTime | Kind::DueDate => clock::from_zone(raw, ctx.actor.tz_offset),
        _ => raw.to_owned(),
    }
}

fn choice_value(db: &Db, def: &TableDef, element: &str, label: &str) -> Option<String> {
    let cdef = db.schema.table("sys_choice")?;
    let (n, e, v, l) = (
        cdef.idx("name")?,
        cdef.idx("element")?,
        cdef.idx("value")?,
        cdef.idx("label")?,
    );
    let owners = [Some(def.name), def.extends];
    db.table("sys_choice")?
        .rows()
        .find(|r| owners.contains(&Some(r[n].as_str())) && r[e] == element && r[l] == label)
        .map(|r| r[v].clone())
}

/// Appends journal entries as sys_journal_field rows.
fn append_journal(
    db: &mut Db,
    def: &TableDef,
    values: &[String],
    entries: &[(usize, String)],
    ctx: &WriteCtx<'_>,
) {
    let schema = db.schema.clone();
    let Some(jdef) = schema.table("sys_journal_field") else {
        return;
    };
    for (i, text) in entries {
        let mut row = vec![String::new(); jdef.fields.len()];
        let set = |row: &mut Vec<String>, name: &str, v: String| {
            if let Some(k) = jdef.idx(name) {
                row[k] = v;
            }
        };
        set(&mut row, "sys_id", new_sys_id());
        set(&mut row, "element_id", values[def.sys("sys_id")].clone());
        set(&mut row, "element", def.fields[*i].name.to_owned());
        set(&mut row, "value", text.clone());
        set(&mut row, "name", def.name.to_owned());
        set(&mut row, "sys_created_on", ctx.now.clone());
        set(&mut row, "sys_updated_on", ctx.now.clone());
        set(&mut row, "sys_created_by", ctx.actor.user_name.clone());
        set(&mut row, "sys_updated_by", ctx.actor.user_name.clone());
        set(&mut row, "sys_mod_count", "0".into());
        let _ = db.insert("sys_journal_field", row);
    }
}
