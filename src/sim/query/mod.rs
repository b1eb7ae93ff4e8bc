//! Encoded queries (`sysparm_query`): parsing into conditions, matching records, ordering.
//! As on a real instance, a part naming an unknown field or operator is ignored and the rest
//! still filters. Reads the store only.

use std::cmp::Ordering;
use std::collections::HashSet;

mod eval;

use eval::value_of;

use crate::sim::clock;
use crate::sim::db::Db;
use crate::sim::schema::{Kind, TableDef};

/// What a query needs beyond its text.
pub(crate) struct QueryCtx<'a> {
    pub db: &'a Db,
    pub def: &'a TableDef,
    /// For `javascript:gs.getUserID()`.
    pub user_sys_id: &'a str,
    /// For `javascript:gs.nowDateTime()`.
    pub now: &'a str,
}

/// A parsed encoded query.
#[derive(Debug, Default)]
pub(crate) struct Query {
    /// `^NQ` groups, ORed; each an AND of clauses; each clause an OR of conditions.
    groups: Vec<Vec<Vec<Cond>>>,
    order: Vec<(Target, bool)>,
    /// Some part was ignored (unknown field or operator, unsupported script).
    pub invalid_parts: Vec<String>,
}

#[derive(Debug)]
enum Target {
    Own(usize, Kind),
    /// Field names, not indices: a reference to `task` lands on incidents and requests alike,
    /// whose fields sit at different places.
    Walk(Vec<&'static str>, Kind),
    /// `sys_tags.<label>`: the sys_ids of records carrying the label.
    Tagged(HashSet<String>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Eq,
    Ne,
    StartsWith,
    EndsWith,
    Like,
    NotLike,
    IsEmpty,
    IsNotEmpty,
    Anything,
    EmptyString,
    In,
    NotIn,
    Lt,
    Le,
    Gt,
    Ge,
    Between,
}

/// Longest first, so `ISNOTEMPTY` is not read as `IS...` and `<=` not as `<`.
const OPS: &[(&str, Op)] = &[
    ("ISNOTEMPTY", Op::IsNotEmpty),
    ("ISEMPTY", Op::IsEmpty),
    ("ANYTHING", Op::Anything),
    ("EMPTYSTRING", Op::EmptyString),
    ("NOT IN", Op::NotIn),
    ("NOTLIKE", Op::NotLike),
    ("STARTSWITH", Op::StartsWith),
    ("ENDSWITH", Op::EndsWith),
    ("LIKE", Op::Like),
    ("IN", Op::In),
    ("BETWEEN", Op::Between),
    ("!=", Op::Ne),
    ("<=", Op::Le),
    (">=", Op::Ge),
    ("=", Op::Eq),
    ("<", Op::Lt),
    (">", Op::Gt),
];

#[derive(Debug)]
struct Cond {
    target: Target,
    op: Op,
    values: Vec<String>,
}

/// Splits on `^`, where `^^` stands for a literal caret.
fn tokens(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '^' {
            current.push(c);
        } else if chars.peek() == Some(&'^') {
            chars.next();
            current.push('^');
        } else {
            out.push(std::mem::take(&mut current));
        }
    }
    out.push(current);
    out.retain(|t| !t.is_empty());
    out
}

impl Query {
    /// Parses `text` against the table in `ctx`.
    pub(crate) fn parse(text: &str, ctx: &QueryCtx<'_>) -> Self {
        let mut q = Query::default();
        let mut group: Vec<Vec<Cond>> = Vec::new();
        let mut started = false;
        for token in tokens(text) {
            let mut t = token.as_str();
            if let Some(rest) = t.strip_prefix("NQ") {
                q.groups.push(std::mem::take(&mut group));
                t = rest;
            }
            if t == "EQ" || t.is_empty() || t.starts_with("GROUPBY") {
                continue;
            }
            if let Some(field) = t.strip_prefix("ORDERBYDESC") {
                q.add_order(field, true, ctx);
                continue;
            }
            if let Some(field) = t.strip_prefix("ORDERBY") {
                q.add_order(field, false, ctx);
                continue;
            }
            let (is_or, cond_text) = match t.strip_prefix("OR") {
                Some(rest) => (true, rest),
                None => (false, t),
            };
            started = true;
            match parse_cond(cond_text, ctx) {
                Some(c) => match group.last_mut() {
                    Some(clause) if is_or => clause.push(c),
                    _ => group.push(vec![c]),
                },
                None => {
                    q.invalid_parts.push(cond_text.to_owned());
                    // An ignored first half of an OR still leaves the OR to attach to.
                    if !is_or {
                        group.push(Vec::new());
                    }
                }
            }
        }
        if started || !group.is_empty() || !q.groups.is_empty() {
            q.groups.push(group);
        }
        // An emptied clause (all its conditions ignored) filters nothing.
        for g in &mut q.groups {
            g.retain(|clause| !clause.is_empty());
        }
        q
    }

    fn add_order(&mut self, field: &str, desc: bool, ctx: &QueryCtx<'_>) {
        match target(field, ctx) {
            Some(t) => self.order.push((t, desc)),
            None => self.invalid_parts.push(format!("ORDERBY{field}")),
        }
    }

    /// Whether a record matches.
    pub(crate) fn matches(&self, db: &Db, def: &TableDef, values: &[String]) -> bool {
        self.groups.is_empty()
            || self.groups.iter().any(|g| {
                g.iter()
                    .all(|clause| clause.iter().any(|c| c.test(db, def, values)))
            })
    }

    /// Puts the first `wanted` matched records in `ORDERBY` order (ties keep insertion
    /// order) and leaves the rest after them unordered: a page needs its offset and limit
    /// sorted, not the whole table. Each record's sort values are read once, not once per
    /// comparison, so a page of a large table costs a pass over it rather than a sort.
    pub(crate) fn sort_first(
        &self,
        db: &Db,
        def: &TableDef,
        rows: &mut Vec<&Vec<String>>,
        wanted: usize,
    ) {
        if self.order.is_empty() || rows.is_empty() {
            return;
        }
        let keys: Vec<Vec<SortValue>> = rows
            .iter()
            .map(|row| {
                self.order
                    .iter()
                    .map(|(t, _)| SortValue::of(value_of(t, db, def, row)))
                    .collect()
            })
            .collect();
        let by_key = |a: &usize, b: &usize| {
            for ((va, vb), (_, desc)) in keys[*a].iter().zip(&keys[*b]).zip(&self.order) {
                let o = va.cmp(vb);
                if o != Ordering::Equal {
                    return if *desc { o.reverse() } else { o };
                }
            }
            a.cmp(b)
        };
        let mut order: Vec<usize> = (0..rows.len()).collect();
        if wanted < order.len() {
            order.select_nth_unstable_by(wanted, by_key);
            order[..wanted].sort_unstable_by(by_key);
        } else {
            order.sort_unstable_by(by_key);
        }
        let sorted: Vec<&Vec<String>> = order.iter().map(|&i| rows[i]).collect();
        *rows = sorted;
    }
}

/// One record's value of one `ORDERBY` field, prepared for comparing as `eval::compare`
/// does: numerically for a numeric field whose values both parse, else as text ignoring
/// ASCII case.
#[derive(Debug)]
struct SortValue {
    number: Option<f64>,
    folded: Vec<u8>,
}

impl SortValue {
    fn of((value, kind): (String, Kind)) -> Self {
        Self {
            number: kind.is_numeric().then(|| value.parse().ok()).flatten(),
            folded: value.bytes().map(|c| c.to_ascii_lowercase()).collect(),
        }
    }

    fn cmp(&self, other: &Self) -> Ordering {
        match (self.number, other.number) {
            (Some(x), Some(y)) => x.partial_cmp(&y).unwrap_or(Ordering::Equal),
            _ => self.folded.cmp(&other.folded),
        }
    }
}

fn target(field: &str, ctx: &QueryCtx<'_>) -> Option<Target> {
    if let Some(label) = field.strip_prefix("sys_tags.") {
        return Some(Target::Tagged(tagged(ctx, label)));
    }
    if let Some(i) = ctx.def.idx(field) {
        return Some(Target::Own(i, ctx.def.fields[i].kind));
    }
    let mut path = Vec::new();
    let mut def = ctx.def;
    let parts: Vec<&str> = field.split('.').collect();
    for (n, part) in parts.iter().enumerate() {
        let i = def.idx(part)?;
        path.push(def.fields[i].name);
        let Some(next) = parts.get(n + 1) else {
            return (n > 0).then(|| Target::Walk(path, def.fields[i].kind));
        };
        let t = def.fields[i].kind.reference_table()?;
        // Of the tables the reference can land on, the first that has the next field.
        def = ctx
            .db
            .schema
            .reference_targets(t)
            .into_iter()
            .filter_map(|name| ctx.db.schema.table(name))
            .find(|d| d.idx(next).is_some())?;
    }
    None
}

/// sys_ids of records of the queried table carrying label `label`.
fn tagged(ctx: &QueryCtx<'_>, label: &str) -> HashSet<String> {
    let (Some(def), Some(rows)) = (
        ctx.db.schema.table("label_entry"),
        ctx.db.table("label_entry"),
    ) else {
        return HashSet::new();
    };
    let (Some(l), Some(t), Some(k)) = (def.idx("label"), def.idx("table"), def.idx("table_key"))
    else {
        return HashSet::new();
    };
    rows.rows()
        .filter(|r| r[l] == label && r[t] == ctx.def.name)
        .map(|r| r[k].clone())
        .collect()
}

fn parse_cond(text: &str, ctx: &QueryCtx<'_>) -> Option<Cond> {
    let end = text
        .find(|c: char| !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '.'))
        .unwrap_or(text.len());
    let (field, rest) = text.split_at(end);
    let (op_text, op) = OPS.iter().find(|(s, _)| rest.starts_with(s))?;
    let raw = &rest[op_text.len()..];
    let target = target(field, ctx)?;
    let kind = match &target {
        Target::Own(_, k) | Target::Walk(_, k) => *k,
        Target::Tagged(_) => Kind::Guid,
    };
    let values: Vec<String> = match op {
        Op::In | Op::NotIn => raw
            .split(',')
            .map(|v| normalize(v, kind, ctx))
            .collect::<Option<_>>()?,
        Op::Between => raw
            .split('@')
            .map(|v| normalize(v, kind, ctx))
            .collect::<Option<_>>()?,
        _ => vec![normalize(raw, kind, ctx)?],
    };
    if *op == Op::Between && values.len() != 2 {
        return None;
    }
    Some(Cond {
        target,
        op: *op,
        values,
    })
}

/// A query value as stored values read: scripts evaluated, date-times in full form.
fn normalize(raw: &str, kind: Kind, ctx: &QueryCtx<'_>) -> Option<String> {
    let v = match raw.strip_prefix("javascript:") {
        Some(script) => eval_script(script.trim(), ctx)?,
        None => raw.to_owned(),
    };
    if kind.is_date() && !v.is_empty() {
        // Plain date strings are UTC (open question 4: believed).
        return clock::parse(&v).map(|t| clock::format(&t)).or(Some(v));
    }
    Some(v)
}

/// The few server-side scripts integrations put in queries; anything else is ignored.
fn eval_script(script: &str, ctx: &QueryCtx<'_>) -> Option<String> {
    let script = script.trim_end_matches(';');
    if script == "gs.getUserID()" {
        return Some(ctx.user_sys_id.to_owned());
    }
    if script == "gs.nowDateTime()" {
        return Some(ctx.now.to_owned());
    }
    // Open question 4: gs.dateGenerate('YYYY-MM-DD','HH:MM:SS') is believed to work.
    let args = script.strip_prefix("gs.dateGenerate(")?.strip_suffix(')')?;
    let parts: Vec<&str> = args
        .split(',')
        .map(|a| a.trim().trim_matches(|c| c == '\'' || c == '"'))
        .collect();
    match parts.as_slice() {
        [date, time] => {
            let t = clock::parse(&format!("{date} {time}"))?;
            Some(clock::format(&t))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::tokens;

    #[test]
    fn double_caret_is_a_literal_caret() {
        assert_eq!(
            tokens("a=x^^y^ORb=1^NQc=2"),
            vec!["a=x^y", "ORb=1", "NQc=2"]
        );
    }
}
