//! Matching and ordering: how one parsed condition judges one record's value.
//! Case-insensitive text, numbers as numbers, UTC date-times as text. Reads the store only.

use std::cmp::Ordering;

use super::{Cond, Op, Target};
use crate::sim::db::Db;
use crate::sim::schema::{Kind, TableDef};

pub(super) fn value_of(t: &Target, db: &Db, def: &TableDef, values: &[String]) -> (String, Kind) {
    match t {
        Target::Own(i, k) => (values[*i].clone(), *k),
        Target::Walk(path, k) => (walk(db, def, values, path).unwrap_or_default(), *k),
        Target::Tagged(set) => (
            if set.contains(&values[def.sys("sys_id")]) {
                "1".into()
            } else {
                String::new()
            },
            Kind::String,
        ),
    }
}

fn walk(db: &Db, def: &TableDef, values: &[String], path: &[&str]) -> Option<String> {
    let (last, steps) = path.split_last()?;
    let mut def = def;
    let mut row: &[String] = values;
    for name in steps {
        let i = def.idx(name)?;
        let t = def.fields[i].kind.reference_table()?;
        let targets = db.schema.reference_targets(t);
        let (table, next) = db.get_any(&targets, &row[i])?;
        def = db.schema.table(table)?;
        row = next;
    }
    Some(row[def.idx(last)?].clone())
}

impl Cond {
    pub(super) fn test(&self, db: &Db, def: &TableDef, values: &[String]) -> bool {
        let (v, kind) = match &self.target {
            Target::Tagged(set) => {
                let has = set.contains(&values[def.sys("sys_id")]);
                return match self.op {
                    Op::Eq | Op::IsNotEmpty | Op::Like | Op::In => has,
                    Op::Ne | Op::IsEmpty | Op::NotLike | Op::NotIn => !has,
                    _ => false,
                };
            }
            Target::Own(i, k) => (std::borrow::Cow::Borrowed(values[*i].as_str()), *k),
            Target::Walk(path, k) => (walk(db, def, values, path).unwrap_or_default().into(), *k),
        };
        let v: &str = &v;
        let first = self.values.first().map(String::as_str).unwrap_or("");
        match self.op {
            Op::Eq => eq(kind, v, first),
            // `!=` also matches empty values, as the platform adds "or is empty" to it.
            Op::Ne => !eq(kind, v, first),
            Op::StartsWith => starts_ci(v, first),
            Op::EndsWith => v.len() >= first.len() && ends_ci(v, first),
            Op::Like => contains_ci(v, first),
            Op::NotLike => !contains_ci(v, first),
            Op::IsEmpty | Op::EmptyString => v.is_empty(),
            Op::IsNotEmpty => !v.is_empty(),
            Op::Anything => true,
            Op::In => self.values.iter().any(|x| eq(kind, v, x)),
            Op::NotIn => !self.values.iter().any(|x| eq(kind, v, x)),
            Op::Lt | Op::Le | Op::Gt | Op::Ge | Op::Between if v.is_empty() => false,
            Op::Lt => compare(kind, v, first) == Ordering::Less,
            Op::Le => compare(kind, v, first) != Ordering::Greater,
            Op::Gt => compare(kind, v, first) == Ordering::Greater,
            Op::Ge => compare(kind, v, first) != Ordering::Less,
            Op::Between => {
                let hi = self.values.get(1).map(String::as_str).unwrap_or("");
                compare(kind, v, first) != Ordering::Less
                    && compare(kind, v, hi) != Ordering::Greater
            }
        }
    }
}

/// String comparisons are case-insensitive, as on the platform's database collation.
fn eq(kind: Kind, a: &str, b: &str) -> bool {
    if kind.is_numeric()
        && let (Ok(x), Ok(y)) = (a.parse::<f64>(), b.parse::<f64>())
    {
        return x == y;
    }
    a.eq_ignore_ascii_case(b)
}

pub(super) fn compare(kind: Kind, a: &str, b: &str) -> Ordering {
    if kind.is_numeric()
        && let (Ok(x), Ok(y)) = (a.parse::<f64>(), b.parse::<f64>())
    {
        return x.partial_cmp(&y).unwrap_or(Ordering::Equal);
    }
    a.bytes()
        .map(|c| c.to_ascii_lowercase())
        .cmp(b.bytes().map(|c| c.to_ascii_lowercase()))
}

fn starts_ci(hay: &str, needle: &str) -> bool {
    hay.len() >= needle.len()
        && hay.as_bytes()[..needle.len()].eq_ignore_ascii_case(needle.as_bytes())
}

fn ends_ci(hay: &str, needle: &str) -> bool {
    hay.as_bytes()[hay.len() - needle.len()..].eq_ignore_ascii_case(needle.as_bytes())
}

fn contains_ci(hay: &str, needle: &str) -> bool {
    needle.is_empty()
        || hay
            .as_bytes()
            .windows(needle.len())
            .any(|w| w.eq_ignore_ascii_case(needle.as_bytes()))
}
