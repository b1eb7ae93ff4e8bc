//! The emulator's records in memory: rows per table, sys_id lookup, numbering and the
//! indexes rules and stats need. It stores what it is given: business rules live in `rules`.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use super::schema::{Schema, TableDef};

/// One table's rows in insertion order, with a sys_id index.
#[derive(Debug)]
pub(crate) struct Table {
    rows: BTreeMap<u64, Vec<String>>,
    by_id: HashMap<String, u64>,
    next_seq: u64,
    sys_id: usize,
    correlation: Option<usize>,
    /// How many records carry each non-empty correlation_id: the duplicate audit.
    correlation_counts: HashMap<String, u32>,
}

impl Table {
    fn new(def: &TableDef) -> Self {
        Self {
            rows: BTreeMap::new(),
            by_id: HashMap::new(),
            next_seq: 1,
            sys_id: def.sys("sys_id"),
            correlation: def.idx("correlation_id"),
            correlation_counts: HashMap::new(),
        }
    }

    fn count_correlation(&mut self, values: &[String], delta: i32) {
        let Some(i) = self.correlation else { return };
        let id = &values[i];
        if id.is_empty() {
            return;
        }
        if delta > 0 {
            *self.correlation_counts.entry(id.clone()).or_insert(0) += 1;
        } else if let Some(n) = self.correlation_counts.get_mut(id) {
            *n -= 1;
            if *n == 0 {
                self.correlation_counts.remove(id);
            }
        }
    }

    /// Rows in insertion order.
    pub(crate) fn rows(&self) -> impl Iterator<Item = &Vec<String>> {
        self.rows.values()
    }

    pub(crate) fn len(&self) -> usize {
        self.rows.len()
    }

    pub(crate) fn get(&self, sys_id: &str) -> Option<&Vec<String>> {
        self.by_id.get(sys_id).and_then(|seq| self.rows.get(seq))
    }

    /// Records whose non-empty correlation_id another record shares, and how many such ids.
    pub(crate) fn duplicate_audit(&self) -> (u64, u64) {
        self.correlation_counts
            .values()
            .filter(|n| **n > 1)
            .fold((0, 0), |(records, ids), n| {
                (records + u64::from(*n), ids + 1)
            })
    }
}

/// Why a storage call did nothing.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum DbError {
    UnknownTable,
    DuplicateSysId,
    NotFound,
}

/// Every table's records, plus counters for record numbers.
#[derive(Debug)]
pub(crate) struct Db {
    pub schema: Arc<Schema>,
    tables: HashMap<&'static str, Table>,
    numbers: HashMap<&'static str, u64>,
    /// sys_journal_field rows by the sys_id of the record they belong to (`element_id`).
    journal_index: HashMap<String, Vec<String>>,
    /// Values written longer than their column, by (table, field): what a client that cuts
    /// to the dictionary's lengths never sends.
    cut_values: HashMap<(&'static str, &'static str), u64>,
}

impl Db {
    /// An empty instance with every table of `schema`.
    pub(crate) fn new(schema: Arc<Schema>) -> Self {
        let tables = schema.tables().map(|t| (t.name, Table::new(t))).collect();
        Self {
            schema,
            tables,
            numbers: HashMap::new(),
            journal_index: HashMap::new(),
            cut_values: HashMap::new(),
        }
    }

    /// Counts a value of `table.field` cut to the column's length.
    pub(crate) fn count_cut(&mut self, table: &'static str, field: &'static str) {
        *self.cut_values.entry((table, field)).or_insert(0) += 1;
    }

    /// Values of `table` cut to their column's length, by field.
    pub(crate) fn cut_values(&self, table: &str) -> std::collections::BTreeMap<String, u64> {
        self.cut_values
            .iter()
            .filter(|((t, _), _)| *t == table)
            .map(|((_, f), n)| ((*f).to_owned(), *n))
            .collect()
    }

    pub(crate) fn table(&self, name: &str) -> Option<&Table> {
        self.tables.get(name)
    }

    pub(crate) fn get(&self, table: &str, sys_id: &str) -> Option<&Vec<String>> {
        self.tables.get(table)?.get(sys_id)
    }

    /// Looks a sys_id up in several tables (a reference to `task`), returning the table found.
    pub(crate) fn get_any(
        &self,
        tables: &[&'static str],
        sys_id: &str,
    ) -> Option<(&'static str, &Vec<String>)> {
        tables
            .iter()
            .find_map(|t| self.get(t, sys_id).map(|row| (*t, row)))
    }

    /// Stores a new row; its sys_id must be set and unused.
    pub(crate) fn insert(&mut self, table: &str, values: Vec<String>) -> Result<(), DbError> {
        let journal_link = self.journal_link(table, &values);
        let t = self.tables.get_mut(table).ok_or(DbError::UnknownTable)?;
        let sys_id = values[t.sys_id].clone();
        if t.by_id.contains_key(&sys_id) {
            return Err(DbError::DuplicateSysId);
        }
        let seq = t.next_seq;
        t.next_seq += 1;
        t.count_correlation(&values, 1);
        t.by_id.insert(sys_id.clone(), seq);
        t.rows.insert(seq, values);
        if let Some(element_id) = journal_link {
            self.journal_index
                .entry(element_id)
                .or_default()
                .push(sys_id);
        }
        Ok(())
    }

    /// Replaces a row's values, keeping its place in insertion order.
    pub(crate) fn replace(&mut self, table: &str, values: Vec<String>) -> Result<(), DbError> {
        let t = self.tables.get_mut(table).ok_or(DbError::UnknownTable)?;
        let seq = *t.by_id.get(&values[t.sys_id]).ok_or(DbError::NotFound)?;
        let old = t.rows.remove(&seq).ok_or(DbError::NotFound)?;
        t.count_correlation(&old, -1);
        t.count_correlation(&values, 1);
        t.rows.insert(seq, values);
        Ok(())
    }

    /// Removes a row and returns it.
    pub(crate) fn delete(&mut self, table: &str, sys_id: &str) -> Result<Vec<String>, DbError> {
        let t = self.tables.get_mut(table).ok_or(DbError::UnknownTable)?;
        let seq = t.by_id.remove(sys_id).ok_or(DbError::NotFound)?;
        let old = t.rows.remove(&seq).ok_or(DbError::NotFound)?;
        t.count_correlation(&old, -1);
        if let Some(element_id) = self.journal_link(table, &old)
            && let Some(ids) = self.journal_index.get_mut(&element_id)
        {
            ids.retain(|id| id != sys_id);
        }
        Ok(old)
    }

    /// The record a sys_journal_field row belongs to.
    fn journal_link(&self, table: &str, values: &[String]) -> Option<String> {
        if table != "sys_journal_field" {
            return None;
        }
        let def = self.schema.table(table)?;
        Some(values[def.idx("element_id")?].clone())
    }

    /// The sys_journal_field rows of one record, oldest first.
    pub(crate) fn journal_of(&self, element_id: &str) -> Vec<&Vec<String>> {
        let Some(ids) = self.journal_index.get(element_id) else {
            return Vec::new();
        };
        ids.iter()
            .filter_map(|id| self.get("sys_journal_field", id))
            .collect()
    }

    /// The next record number of a table that numbers its records: INC0010001, INC0010002, ...
    pub(crate) fn next_number(&mut self, table: &'static str, prefix: &str) -> String {
        let n = self.numbers.entry(table).or_insert(10_000);
        *n += 1;
        format!("{prefix}{:07}", *n)
    }

    /// The first row of `table` whose `field` equals `value` exactly.
    pub(crate) fn find(&self, table: &str, field: &str, value: &str) -> Option<&Vec<String>> {
        let i = self.schema.table(table)?.idx(field)?;
        self.tables.get(table)?.rows().find(|r| r[i] == value)
    }
}
