//! Records as the Table API prints them: every value a string, references as `{link, value}`,
//! display values and `sysparm_fields` selection. Reads the store, never changes it.

use std::cell::OnceCell;
use std::collections::HashMap;

use serde::ser::{Serialize, SerializeMap, Serializer};

use super::clock;
use super::db::Db;
use super::schema::{Kind, Schema, TableDef};

/// `sysparm_display_value`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DisplayMode {
    Value,
    Display,
    All,
}

/// How one request wants records printed.
#[derive(Debug, Clone)]
pub(crate) struct RenderOpts {
    pub mode: DisplayMode,
    pub exclude_link: bool,
    /// `sysparm_fields`, trimmed; `None` prints every field.
    pub fields: Option<Vec<String>>,
    /// `{base}api/now/{version}/table/`, the prefix of reference links.
    pub link_prefix: String,
    /// The requesting user's offset from UTC, for display values of date-times.
    pub tz_offset: i64,
}

/// A field to print: a column of the table, or a dot-walk through references.
#[derive(Debug)]
enum Column {
    Own(usize),
    /// Field names, not indices: a reference to `task` lands on tables whose fields sit at
    /// different places.
    Walk {
        key: String,
        path: Vec<&'static str>,
    },
}

/// Prints records of one table.
pub(crate) struct Renderer<'a> {
    db: &'a Db,
    def: &'a TableDef,
    opts: &'a RenderOpts,
    columns: Vec<Column>,
    choices: OnceCell<HashMap<(String, String, String), String>>,
}

impl<'a> Renderer<'a> {
    pub(crate) fn new(db: &'a Db, def: &'a TableDef, opts: &'a RenderOpts) -> Self {
        let columns = match &opts.fields {
            None => (0..def.fields.len()).map(Column::Own).collect(),
            // Unknown names in sysparm_fields are left out of the output.
            Some(names) => names
                .iter()
                .filter_map(|n| match def.idx(n) {
                    Some(i) => Some(Column::Own(i)),
                    None => walk(&db.schema, def, n).map(|path| Column::Walk {
                        key: n.clone(),
                        path,
                    }),
                })
                .collect(),
        };
        Self {
            db,
            def,
            opts,
            columns,
            choices: OnceCell::new(),
        }
    }

    /// A serializable view of one record.
    pub(crate) fn record<'r>(&'r self, values: &'r [String]) -> RecordView<'r, 'a> {
        RecordView { r: self, values }
    }

    fn choice_label(&self, table: &TableDef, element: &str, value: &str) -> Option<String> {
        let map = self.choices.get_or_init(|| {
            let Some(def) = self.db.schema.table("sys_choice") else {
                return HashMap::new();
            };
            let (Some(n), Some(e), Some(v), Some(l)) = (
                def.idx("name"),
                def.idx("element"),
                def.idx("value"),
                def.idx("label"),
            ) else {
                return HashMap::new();
            };
            self.db
                .table("sys_choice")
                .map(|t| {
                    t.rows()
                        .map(|r| ((r[n].clone(), r[e].clone(), r[v].clone()), r[l].clone()))
                        .collect()
                })
                .unwrap_or_default()
        });
        let key = |t: &str| (t.to_owned(), element.to_owned(), value.to_owned());
        map.get(&key(table.name))
            .or_else(|| table.extends.and_then(|p| map.get(&key(p))))
            .cloned()
    }

    fn reference_display(&self, kind: Kind, value: &str) -> String {
        match kind {
            Kind::DomainId => value.to_owned(),
            Kind::NameReference("sys_glide_object") => Schema::type_label(value).to_owned(),
            Kind::NameReference(_) => self
                .db
                .schema
                .table(value)
                .map(|t| t.label.to_owned())
                .unwrap_or_else(|| value.to_owned()),
            Kind::Reference(target) => {
                let targets = self.db.schema.reference_targets(target);
                self.db
                    .get_any(&targets, value)
                    .and_then(|(t, row)| {
                        let def = self.db.schema.table(t)?;
                        Some(row[def.idx(def.display_field)?].clone())
                    })
                    .unwrap_or_default()
            }
            _ => value.to_owned(),
        }
    }

    fn user_display(&self, user_name: &str) -> String {
        self.db
            .schema
            .table("sys_user")
            .and_then(|d| d.idx("name"))
            .and_then(|i| {
                self.db
                    .find("sys_user", "user_name", user_name)
                    .map(|r| r[i].clone())
            })
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| user_name.to_owned())
    }

    /// A journal field's whole history, newest first, as display values print it.
    fn journal_display(&self, def: &TableDef, sys_id: &str, field: &str) -> String {
        let Some(jdef) = self.db.schema.table("sys_journal_field") else {
            return String::new();
        };
        let (Some(el), Some(val), Some(on), Some(by)) = (
            jdef.idx("element"),
            jdef.idx("value"),
            jdef.idx("sys_created_on"),
            jdef.idx("sys_created_by"),
        ) else {
            return String::new();
        };
        let mut out = String::new();
        for row in self.db.journal_of(sys_id).into_iter().rev() {
            let element = row[el].as_str();
            let wanted = if field == "comments_and_work_notes" {
                element == "comments" || element == "work_notes"
            } else {
                element == field
            };
            if !wanted {
                continue;
            }
            let label = def
                .idx(element)
                .map(|i| def.fields[i].label)
                .unwrap_or(element);
            out.push_str(&format!(
                "{} - {} ({label})\n{}\n\n",
                clock::to_zone(&row[on], self.opts.tz_offset),
                self.user_display(&row[by]),
                row[val]
            ));
        }
        out
    }

    fn display_value(&self, def: &TableDef, values: &[String], i: usize) -> String {
        let f = &def.fields[i];
        let v = values[i].as_str();
        match f.kind {
            Kind::Journal | Kind::JournalList => {
                self.journal_display(def, &values[def.sys("sys_id")], f.name)
            }
            _ if v.is_empty() => {
                if f.kind == Kind::DueDate {
                    "UNKNOWN".to_owned()
                } else {
                    String::new()
                }
            }
            Kind::Choice { .. } => self
                .choice_label(def, f.name, v)
                .unwrap_or_else(|| v.to_owned()),
            Kind::Integer => thousands(v),
            Kind::DateTime | Kind::DueDate => clock::to_zone(v, self.opts.tz_offset),
            Kind::Duration => clock::duration_display(v),
            Kind::SysClassName => self
                .db
                .schema
                .table(v)
                .map(|t| t.label.to_owned())
                .unwrap_or_else(|| v.to_owned()),
            Kind::Reference(_) | Kind::NameReference(_) | Kind::DomainId => {
                self.reference_display(f.kind, v)
            }
            _ => v.to_owned(),
        }
    }

    fn link(&self, kind: Kind, value: &str) -> Option<String> {
        if self.opts.exclude_link || value.is_empty() {
            return None;
        }
        let table = kind.reference_table()?;
        Some(format!("{}{table}/{value}", self.opts.link_prefix))
    }

    fn field<'r>(&'r self, def: &TableDef, values: &'r [String], i: usize) -> FieldOut<'r> {
        let f = &def.fields[i];
        let stored: &str = match f.kind {
            // Journal text lives in sys_journal_field: the record itself reads "" (recorded).
            Kind::Journal | Kind::JournalList => "",
            _ => &values[i],
        };
        let is_ref = f.kind.reference_table().is_some() && !stored.is_empty();
        match self.opts.mode {
            DisplayMode::Value if is_ref => match self.link(f.kind, stored) {
                Some(link) => FieldOut::Ref {
                    display: None,
                    link: Some(link),
                    value: Some(stored),
                },
                None => FieldOut::Text(stored.into()),
            },
            DisplayMode::Value => FieldOut::Text(stored.into()),
            DisplayMode::Display => {
                let display = self.display_value(def, values, i);
                match is_ref.then(|| self.link(f.kind, stored)).flatten() {
                    Some(link) => FieldOut::Ref {
                        display: Some(display),
                        link: Some(link),
                        value: None,
                    },
                    None => FieldOut::Text(display.into()),
                }
            }
            DisplayMode::All => FieldOut::Ref {
                display: Some(self.display_value(def, values, i)),
                link: is_ref.then(|| self.link(f.kind, stored)).flatten(),
                value: Some(stored),
            },
        }
    }

    /// Follows a dot-walk from `values`; `None` when a reference along it is empty or dangling.
    fn walk_value<'r>(
        &'r self,
        values: &'r [String],
        path: &[&str],
    ) -> Option<(&'a TableDef, &'r [String], usize)>
    where
        'a: 'r,
    {
        let (last, steps) = path.split_last()?;
        let mut def: &'a TableDef = self.def;
        let mut row: &'r [String] = values;
        for name in steps {
            let i = def.idx(name)?;
            let target = def.fields[i].kind.reference_table()?;
            let targets = self.db.schema.reference_targets(target);
            let (t, next) = self.db.get_any(&targets, &row[i])?;
            def = self.db.schema.table(t)?;
            row = next;
        }
        Some((def, row, def.idx(last)?))
    }
}

/// Resolves `a.b.c` to field names, each step but the last a reference; at each step, the
/// first table the reference can land on that has the next field.
fn walk(schema: &Schema, def: &TableDef, dotted: &str) -> Option<Vec<&'static str>> {
    let mut path = Vec::new();
    let mut current = def;
    let parts: Vec<&str> = dotted.split('.').collect();
    for (n, part) in parts.iter().enumerate() {
        let i = current.idx(part)?;
        path.push(current.fields[i].name);
        if let Some(next) = parts.get(n + 1) {
            let target = current.fields[i].kind.reference_table()?;
            current = schema
                .reference_targets(target)
                .into_iter()
                .filter_map(|t| schema.table(t))
                .find(|d| d.idx(next).is_some())?;
        }
    }
    (parts.len() > 1).then_some(path)
}

/// "102197" → "102,197"; anything that is not a whole number is left alone.
fn thousands(v: &str) -> String {
    let Ok(n) = v.parse::<i64>() else {
        return v.to_owned();
    };
    let digits = n.unsigned_abs().to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    if n < 0 {
        out.push('-');
    }
    for (k, c) in digits.chars().enumerate() {
        if k > 0 && (digits.len() - k) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// One printed field value.
enum FieldOut<'r> {
    Text(std::borrow::Cow<'r, str>),
    Ref {
        display: Option<String>,
        link: Option<String>,
        value: Option<&'r str>,
    },
}

impl Serialize for FieldOut<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            FieldOut::Text(t) => s.serialize_str(t),
            FieldOut::Ref {
                display,
                link,
                value,
            } => {
                let mut m = s.serialize_map(None)?;
                if let Some(d) = display {
                    m.serialize_entry("display_value", d)?;
                }
                if let Some(l) = link {
                    m.serialize_entry("link", l)?;
                }
                if let Some(v) = value {
                    m.serialize_entry("value", v)?;
                }
                m.end()
            }
        }
    }
}

/// One record, serializable as the JSON object the Table API returns.
pub(crate) struct RecordView<'r, 'a> {
    r: &'r Renderer<'a>,
    values: &'r [String],
}

impl Serialize for RecordView<'_, '_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let r = self.r;
        let mut m = s.serialize_map(Some(r.columns.len()))?;
        for col in &r.columns {
            match col {
                Column::Own(i) => {
                    m.serialize_entry(r.def.fields[*i].name, &r.field(r.def, self.values, *i))?
                }
                Column::Walk { key, path } => match r.walk_value(self.values, path) {
                    Some((def, row, last)) => m.serialize_entry(key, &r.field(def, row, last))?,
                    None => m.serialize_entry(key, "")?,
                },
            }
        }
        m.end()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn integers_get_thousands_separators() {
        assert_eq!(super::thousands("102197"), "102,197");
        assert_eq!(super::thousands("28800"), "28,800");
        assert_eq!(super::thousands("19"), "19");
        assert_eq!(super::thousands("-1000"), "-1,000");
        assert_eq!(super::thousands(""), "");
    }
}
