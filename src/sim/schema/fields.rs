//! The column lists of every emulated table, in the order a real instance returns them.
//! Incident and sc_request follow the recorded responses field for field; their custom `u_`
//! fields come last. sn_si_incident, unrecorded, lists task's fields and then its own.
//! Data only: no behaviour.

use super::task::{
    INCIDENT, INCIDENT_CUSTOM, INCIDENT_ORDER, SC_REQUEST, SC_REQUEST_ORDER, SECURITY_INCIDENT,
    TASK,
};
use super::{FieldDef, Kind};

use Kind::{
    Boolean as B, Choice, DateTime as Dt, DocumentId as Doc, Guid, Integer as Int, Journal as J,
    NameReference as NRef, Reference as Ref, String as S,
};

pub(super) const NUM: Kind = Choice { numeric: true };
pub(super) const STR: Kind = Choice { numeric: false };

/// A table before its field index is built.
pub(super) struct TableSpec {
    pub name: &'static str,
    pub label: &'static str,
    pub extends: Option<&'static str>,
    pub display_field: &'static str,
    pub number_prefix: Option<&'static str>,
    pub read_only: bool,
    pub fields: Vec<FieldDef>,
}

pub(super) type Spec = (&'static str, &'static str, Kind, u32);

/// Fields every table carries.
const SYS: &[Spec] = &[
    ("sys_id", "Sys ID", Guid, 32),
    ("sys_created_on", "Created", Dt, 40),
    ("sys_created_by", "Created by", S, 40),
    ("sys_updated_on", "Updated", Dt, 40),
    ("sys_updated_by", "Updated by", S, 40),
    ("sys_mod_count", "Updates", Int, 40),
    ("sys_tags", "Tags", S, 4000),
];

const APPROVER: &[Spec] = &[
    ("approver", "Approver", Ref("sys_user"), 32),
    ("sysapproval", "Approval for", Ref("task"), 32),
    ("document_id", "Approving", Doc, 32),
    ("source_table", "Source table", S, 80),
    ("state", "State", STR, 40),
    ("comments", "Comments", J, 4000),
    ("due_date", "Due date", Dt, 40),
    ("order", "Order", Int, 40),
];

const USER: &[Spec] = &[
    ("user_name", "User ID", S, 40),
    ("first_name", "First name", S, 50),
    ("last_name", "Last name", S, 50),
    ("name", "Name", S, 151),
    ("email", "Email", S, 100),
    ("title", "Title", S, 60),
    ("active", "Active", B, 40),
    ("locked_out", "Locked out", B, 40),
    ("time_zone", "Time zone", S, 40),
    ("manager", "Manager", Ref("sys_user"), 32),
    ("phone", "Business phone", S, 40),
    ("mobile_phone", "Mobile phone", S, 40),
    ("department", "Department", Ref("cmn_department"), 32),
    ("location", "Location", Ref("cmn_location"), 32),
];

const DEPARTMENT: &[Spec] = &[("name", "Name", S, 100), ("id", "ID", S, 40)];

const LOCATION: &[Spec] = &[
    ("name", "Name", S, 100),
    ("city", "City", S, 100),
    ("country", "Country", S, 40),
];

const GROUP: &[Spec] = &[
    ("name", "Name", S, 80),
    ("description", "Description", S, 1000),
    ("active", "Active", B, 40),
    ("email", "Group email", S, 100),
    ("manager", "Manager", Ref("sys_user"), 32),
];

const SERVICE: &[Spec] = &[
    ("name", "Name", S, 255),
    ("operational_status", "Operational status", NUM, 40),
    ("busines_criticality", "Business criticality", STR, 40),
    ("owned_by", "Owned by", Ref("sys_user"), 32),
    ("support_group", "Support group", Ref("sys_user_group"), 32),
    ("used_for", "Used for", STR, 40),
];

const LABEL: &[Spec] = &[
    ("name", "Name", S, 100),
    ("type", "Type", STR, 40),
    ("viewable_by", "Viewable by", STR, 40),
    ("owner", "Owner", Ref("sys_user"), 32),
    ("active", "Active", B, 40),
];

const LABEL_ENTRY: &[Spec] = &[
    ("label", "Label", Ref("label"), 32),
    ("table", "Table", S, 80),
    ("table_key", "Table key", S, 32),
    ("title", "Title", S, 160),
    ("target", "Target", Doc, 32),
];

const DICTIONARY: &[Spec] = &[
    ("name", "Table", S, 80),
    ("element", "Column name", S, 80),
    ("column_label", "Column label", S, 80),
    ("internal_type", "Type", NRef("sys_glide_object"), 40),
    ("max_length", "Max length", Int, 40),
    ("mandatory", "Mandatory", B, 40),
    ("reference", "Reference", NRef("sys_db_object"), 80),
    ("active", "Active", B, 40),
    ("read_only", "Read only", B, 40),
    ("choice", "Choice", Int, 40),
    ("default_value", "Default value", S, 512),
];

const CHOICE: &[Spec] = &[
    ("name", "Table", S, 80),
    ("element", "Element", S, 80),
    ("value", "Value", S, 40),
    ("label", "Label", S, 100),
    ("sequence", "Sequence", Int, 40),
    ("inactive", "Inactive", B, 40),
    ("dependent_value", "Dependent value", S, 100),
    ("language", "Language", S, 40),
];

const JOURNAL: &[Spec] = &[
    ("element_id", "Element ID", S, 32),
    ("element", "Element", S, 40),
    ("value", "Value", S, 4000),
    ("name", "Table", S, 80),
];

const DB_OBJECT: &[Spec] = &[
    ("name", "Name", S, 80),
    ("label", "Label", S, 80),
    ("super_class", "Extends table", Ref("sys_db_object"), 32),
    ("is_extendable", "Extensible", B, 40),
];

fn field(on: &'static str, (name, label, kind, max_length): &Spec) -> FieldDef {
    FieldDef {
        name,
        label,
        kind: *kind,
        max_length: *max_length,
        defined_on: on,
    }
}

/// A task table: the recorded order, with the defining table of each field kept.
fn task_table(own_name: &'static str, own: &[Spec], order: &[&str]) -> Vec<FieldDef> {
    let mut out: Vec<FieldDef> = order
        .iter()
        .filter_map(|name| {
            if let Some(s) = TASK.iter().find(|s| s.0 == *name) {
                return Some(field("task", s));
            }
            own.iter()
                .find(|s| s.0 == *name)
                .map(|s| field(own_name, s))
        })
        .collect();
    // Keep fields that are defined but missing from the recorded order (custom ones).
    for s in TASK {
        if !out.iter().any(|f| f.name == s.0) {
            out.push(field("task", s));
        }
    }
    for s in own {
        if !out.iter().any(|f| f.name == s.0) {
            out.push(field(own_name, s));
        }
    }
    out
}

/// A plain table: its own fields, then the sys fields it lacks.
fn plain_table(name: &'static str, own: &[Spec]) -> Vec<FieldDef> {
    let mut out: Vec<FieldDef> = own.iter().map(|s| field(name, s)).collect();
    for s in SYS {
        if !out.iter().any(|f| f.name == s.0) {
            out.push(field(name, s));
        }
    }
    out
}

#[allow(clippy::too_many_arguments)]
fn spec(
    name: &'static str,
    label: &'static str,
    extends: Option<&'static str>,
    display_field: &'static str,
    number_prefix: Option<&'static str>,
    read_only: bool,
    fields: Vec<FieldDef>,
) -> TableSpec {
    TableSpec {
        name,
        label,
        extends,
        display_field,
        number_prefix,
        read_only,
        fields,
    }
}

/// Every table of the emulated instance; `sn_si_incident` only with the Security Incident
/// Response plugin.
pub(super) fn build(security_incident_response: bool) -> Vec<TableSpec> {
    let incident_own: Vec<Spec> = INCIDENT.iter().chain(INCIDENT_CUSTOM).copied().collect();
    let task = Some("task");
    let mut tables = vec![
        spec(
            "incident",
            "Incident",
            task,
            "number",
            Some("INC"),
            false,
            task_table("incident", &incident_own, INCIDENT_ORDER),
        ),
        spec(
            "sc_request",
            "Request",
            task,
            "number",
            Some("REQ"),
            false,
            task_table("sc_request", SC_REQUEST, SC_REQUEST_ORDER),
        ),
        spec(
            "sysapproval_approver",
            "Approval",
            None,
            "approver",
            None,
            false,
            plain_table("sysapproval_approver", APPROVER),
        ),
        spec(
            "sys_user",
            "User",
            None,
            "name",
            None,
            false,
            plain_table("sys_user", USER),
        ),
        spec(
            "sys_user_group",
            "Group",
            None,
            "name",
            None,
            false,
            plain_table("sys_user_group", GROUP),
        ),
        spec(
            "cmdb_ci_service",
            "Business Service",
            None,
            "name",
            None,
            false,
            plain_table("cmdb_ci_service", SERVICE),
        ),
        spec(
            "cmn_department",
            "Department",
            None,
            "name",
            None,
            false,
            plain_table("cmn_department", DEPARTMENT),
        ),
        spec(
            "cmn_location",
            "Location",
            None,
            "name",
            None,
            false,
            plain_table("cmn_location", LOCATION),
        ),
        spec(
            "label",
            "Label",
            None,
            "name",
            None,
            false,
            plain_table("label", LABEL),
        ),
        spec(
            "label_entry",
            "Label Entry",
            None,
            "title",
            None,
            false,
            plain_table("label_entry", LABEL_ENTRY),
        ),
        spec(
            "sys_dictionary",
            "Dictionary Entry",
            None,
            "column_label",
            None,
            true,
            plain_table("sys_dictionary", DICTIONARY),
        ),
        spec(
            "sys_choice",
            "Choices",
            None,
            "label",
            None,
            true,
            plain_table("sys_choice", CHOICE),
        ),
        spec(
            "sys_journal_field",
            "Journal Entry",
            None,
            "value",
            None,
            true,
            plain_table("sys_journal_field", JOURNAL),
        ),
        spec(
            "sys_db_object",
            "Table",
            None,
            "label",
            None,
            true,
            plain_table("sys_db_object", DB_OBJECT),
        ),
    ];
    if security_incident_response {
        tables.push(spec(
            "sn_si_incident",
            "Security Incident",
            task,
            "number",
            Some("SIR"),
            false,
            task_table("sn_si_incident", SECURITY_INCIDENT, &[]),
        ));
    }
    tables
}
