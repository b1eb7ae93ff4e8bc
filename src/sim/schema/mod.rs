//! Table and field definitions of the emulated instance: names, types, lengths and labels.
//! Pure data: no state and no IO; rules and rendering read it, nothing here changes a record.

mod fields;
mod task;

use std::collections::HashMap;

/// The type of a field, as `sys_dictionary.internal_type` names it, with what rendering needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Free text (`string`), also used for `domain_path` and sys fields that are text.
    String,
    /// Whole numbers (`integer`); sorted numerically, shown with thousands separators.
    Integer,
    /// `boolean`: "true" or "false".
    Boolean,
    /// `glide_date_time`: `YYYY-MM-DD HH:MM:SS` in UTC.
    DateTime,
    /// `due_date`: a date-time whose empty display value is "UNKNOWN" (recorded for sla_due).
    DueDate,
    /// `glide_duration` and `timer`: an epoch-based date-time, shown as text ("8 Hours").
    Duration,
    /// A choice list over integer or string values; labels live in `sys_choice`.
    Choice { numeric: bool },
    /// A reference to a record of the named table, keyed by sys_id.
    Reference(&'static str),
    /// A reference keyed by name rather than sys_id (`sys_dictionary.internal_type`, `.reference`).
    NameReference(&'static str),
    /// `domain_id`: rendered like a reference to sys_user_group, displayed as its value.
    DomainId,
    /// `journal_input` (work_notes, comments) and `journal` (approval_history): write-only text
    /// appended to `sys_journal_field`; reads back "" unless display values are asked for.
    Journal,
    /// `journal_list` (comments_and_work_notes): both journals interleaved, read-only.
    JournalList,
    /// `glide_list`: comma-separated sys_ids.
    GlideList,
    /// `sys_class_name`: the table name, displayed as the table's label.
    SysClassName,
    /// `GUID`: the sys_id.
    Guid,
    /// `document_id`: a sys_id of a record in a table named by another field.
    DocumentId,
    /// `currency`.
    Currency,
}

impl Kind {
    /// The `sys_dictionary.internal_type` value for this kind.
    pub(crate) fn internal_type(self, name: &str) -> &'static str {
        match self {
            Kind::String => {
                if name == "sys_domain_path" {
                    "domain_path"
                } else {
                    "string"
                }
            }
            Kind::Integer | Kind::Choice { numeric: true } => "integer",
            Kind::Choice { numeric: false } => "string",
            Kind::Boolean => "boolean",
            Kind::DateTime => "glide_date_time",
            Kind::DueDate => "due_date",
            Kind::Duration => {
                if name == "time_worked" {
                    "timer"
                } else {
                    "glide_duration"
                }
            }
            Kind::Reference(_) | Kind::NameReference(_) => "reference",
            Kind::DomainId => "domain_id",
            Kind::Journal => {
                if name == "approval_history" {
                    "journal"
                } else {
                    "journal_input"
                }
            }
            Kind::JournalList => "journal_list",
            Kind::GlideList => "glide_list",
            Kind::SysClassName => "sys_class_name",
            Kind::Guid => "GUID",
            Kind::DocumentId => "document_id",
            Kind::Currency => "currency",
        }
    }

    /// The table a reference-like field points at, if any.
    pub(crate) fn reference_table(self) -> Option<&'static str> {
        match self {
            Kind::Reference(t) | Kind::NameReference(t) => Some(t),
            Kind::DomainId => Some("sys_user_group"),
            _ => None,
        }
    }

    /// Whether values are date-times compared and converted as such.
    pub(crate) fn is_date(self) -> bool {
        matches!(self, Kind::DateTime | Kind::DueDate | Kind::Duration)
    }

    /// Whether values compare as numbers.
    pub(crate) fn is_numeric(self) -> bool {
        matches!(self, Kind::Integer | Kind::Choice { numeric: true })
    }
}

/// One column of a table.
#[derive(Debug, Clone)]
pub(crate) struct FieldDef {
    pub name: &'static str,
    pub label: &'static str,
    pub kind: Kind,
    pub max_length: u32,
    /// The table whose dictionary defines the field (`task` for inherited ones).
    pub defined_on: &'static str,
}

/// One table: its columns in output order and what rules need to know about it.
#[derive(Debug)]
pub(crate) struct TableDef {
    pub name: &'static str,
    pub label: &'static str,
    /// The parent table (`task` for incident, sc_request and sn_si_incident).
    pub extends: Option<&'static str>,
    /// The field shown as the display value of references to this table.
    pub display_field: &'static str,
    /// The prefix of `number` (INC, REQ, SIR), for tables that number their records.
    pub number_prefix: Option<&'static str>,
    /// Writes are refused with the ACL error: the seeded accounts are not admins.
    pub read_only: bool,
    pub fields: Vec<FieldDef>,
    index: HashMap<&'static str, usize>,
}

impl TableDef {
    fn new(spec: &fields::TableSpec) -> Self {
        let fields: Vec<FieldDef> = spec.fields.clone();
        let index = fields
            .iter()
            .enumerate()
            .map(|(i, f)| (f.name, i))
            .collect();
        Self {
            name: spec.name,
            label: spec.label,
            extends: spec.extends,
            display_field: spec.display_field,
            number_prefix: spec.number_prefix,
            read_only: spec.read_only,
            fields,
            index,
        }
    }

    /// The position of a field in records of this table.
    pub(crate) fn idx(&self, name: &str) -> Option<usize> {
        self.index.get(name).copied()
    }

    /// The position of a field every table has (sys_id and the other sys fields).
    pub(crate) fn sys(&self, name: &'static str) -> usize {
        // Invariant: `fields::build` appends every sys field to every table.
        self.index[name]
    }

    /// Whether records of this table are tasks (incident, sc_request, sn_si_incident).
    pub(crate) fn is_task(&self) -> bool {
        self.extends == Some("task")
    }
}

/// Every table of the emulated instance.
#[derive(Debug)]
pub(crate) struct Schema {
    tables: HashMap<&'static str, TableDef>,
}

impl Schema {
    /// The built-in tables, custom incident fields included, and `sn_si_incident` when the
    /// instance has the Security Incident Response plugin.
    pub(crate) fn standard(security_incident_response: bool) -> Self {
        let tables = fields::build(security_incident_response)
            .iter()
            .map(|spec| (spec.name, TableDef::new(spec)))
            .collect();
        Self { tables }
    }

    pub(crate) fn table(&self, name: &str) -> Option<&TableDef> {
        self.tables.get(name)
    }

    pub(crate) fn tables(&self) -> impl Iterator<Item = &TableDef> {
        self.tables.values()
    }

    /// The tables a reference to `target` can point into: the table itself, or for `task`
    /// every table extending it.
    pub(crate) fn reference_targets(&self, target: &str) -> Vec<&'static str> {
        if target == "task" {
            let mut v: Vec<&'static str> = self
                .tables
                .values()
                .filter(|t| t.is_task())
                .map(|t| t.name)
                .collect();
            v.sort_unstable();
            v
        } else {
            self.tables
                .get(target)
                .map(|t| vec![t.name])
                .unwrap_or_default()
        }
    }

    /// Labels of `sys_glide_object` rows, the display values of `internal_type`.
    pub(crate) fn type_label(internal_type: &str) -> &str {
        match internal_type {
            "string" => "String",
            "integer" => "Integer",
            "boolean" => "True/False",
            "glide_date_time" => "Date/Time",
            "due_date" => "Due Date",
            "glide_duration" => "Duration",
            "timer" => "Timer",
            "reference" => "Reference",
            "domain_id" => "Domain ID",
            "domain_path" => "Domain Path",
            "journal" => "Journal",
            "journal_input" => "Journal Input",
            "journal_list" => "Journal List",
            "glide_list" => "List",
            "sys_class_name" => "System Class Name",
            "GUID" => "Sys ID (GUID)",
            "document_id" => "Document ID",
            "currency" => "Currency",
            "collection" => "Collection",
            other => other,
        }
    }
}
