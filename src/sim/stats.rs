//! Observability for tests and benchmarks: request counts per method and path template,
//! answers per status, injected faults, and per table the requests, the record count and the
//! duplicate audit and the values cut to their column's length.
//! Counts only; it never changes how a request is served.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, MutexGuard, PoisonError};

use serde::{Deserialize, Serialize};

use super::Sim;

/// What `GET /sim/stats` returns.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimStats {
    /// Requests by `"METHOD /path/template"`, e.g. `"POST /api/now/table/incident"` or
    /// `"PATCH /api/now/v2/table/incident/{sys_id}"`. The `/sim/` endpoints are not counted.
    pub requests: BTreeMap<String, u64>,
    pub requests_total: u64,
    /// Of `requests`, those that arrived as items of a Batch API call rather than on the
    /// wire, by the same keys: what a request-economy figure subtracts to count HTTP calls.
    #[serde(default)]
    pub batch_items: BTreeMap<String, u64>,
    /// Answers by HTTP status.
    pub responses: BTreeMap<String, u64>,
    /// Injected faults by kind (`error_500`, `commit_then_fail`, `too_many_requests`, ...).
    pub faults: BTreeMap<String, u64>,
    pub tables: BTreeMap<String, TableStats>,
}

impl SimStats {
    /// Requests counted under `method` and `template`.
    pub fn requests_to(&self, method: &str, template: &str) -> u64 {
        self.requests
            .get(&format!("{method} {template}"))
            .copied()
            .unwrap_or(0)
    }

    /// Records of `table` whose non-empty correlation_id another record shares.
    pub fn duplicate_records(&self, table: &str) -> u64 {
        self.tables
            .get(table)
            .map(|t| t.duplicate_correlation_records)
            .unwrap_or(0)
    }

    /// Records in `table`.
    pub fn records(&self, table: &str) -> u64 {
        self.tables.get(table).map(|t| t.records).unwrap_or(0)
    }

    /// Table API requests to `table` with `method`, whatever the path version, to the table or
    /// to one of its records, Batch API items included.
    pub fn table_requests(&self, table: &str, method: &str) -> u64 {
        self.tables
            .get(table)
            .and_then(|t| t.requests.get(method))
            .copied()
            .unwrap_or(0)
    }
}

/// One table's counts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableStats {
    /// Table API requests by method (`GET`, `POST`, ...), every path form and Batch API items
    /// included.
    #[serde(default)]
    pub requests: BTreeMap<String, u64>,
    pub records: u64,
    /// Records sharing a non-empty correlation_id with another record: the duplicate audit.
    pub duplicate_correlation_records: u64,
    /// Distinct correlation_ids carried by more than one record.
    pub duplicate_correlation_ids: u64,
    /// Values written longer than their column and cut to it, by field.
    #[serde(default)]
    pub cut_values: BTreeMap<String, u64>,
}

#[derive(Default)]
struct Inner {
    requests: HashMap<String, u64>,
    /// By (table, method).
    table_requests: HashMap<(String, String), u64>,
    batch_items: HashMap<String, u64>,
    total: u64,
    responses: HashMap<u16, u64>,
    faults: HashMap<String, u64>,
}

/// Running counters.
#[derive(Default)]
pub(crate) struct Counters {
    inner: Mutex<Inner>,
}

impl Counters {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Counts one request; `table` when it is a Table API request, `batch_item` when it came
    /// inside a Batch API call.
    pub(crate) fn request(
        &self,
        method: &str,
        template: &str,
        table: Option<&str>,
        batch_item: bool,
    ) {
        let mut s = self.lock();
        s.total += 1;
        let key = format!("{method} {template}");
        if batch_item {
            *s.batch_items.entry(key.clone()).or_insert(0) += 1;
        }
        *s.requests.entry(key).or_insert(0) += 1;
        if let Some(table) = table {
            *s.table_requests
                .entry((table.to_owned(), method.to_owned()))
                .or_insert(0) += 1;
        }
    }

    pub(crate) fn response(&self, status: u16) {
        *self.lock().responses.entry(status).or_insert(0) += 1;
    }

    pub(crate) fn fault(&self, kind: &str) {
        *self.lock().faults.entry(kind.to_owned()).or_insert(0) += 1;
    }
}

/// The current counts.
pub(crate) fn snapshot(sim: &Sim) -> SimStats {
    let mut tables: BTreeMap<String, TableStats> = {
        let db = sim.read_db();
        db.schema
            .tables()
            .map(|t| {
                let (records, (dup_records, dup_ids)) = db
                    .table(t.name)
                    .map(|rows| (rows.len() as u64, rows.duplicate_audit()))
                    .unwrap_or((0, (0, 0)));
                (
                    t.name.to_owned(),
                    TableStats {
                        requests: BTreeMap::new(),
                        records,
                        duplicate_correlation_records: dup_records,
                        duplicate_correlation_ids: dup_ids,
                        cut_values: db.cut_values(t.name),
                    },
                )
            })
            .collect()
    };
    let s = sim.stats.lock();
    for ((table, method), n) in &s.table_requests {
        // Requests to tables the instance does not have are counted by template only.
        if let Some(t) = tables.get_mut(table) {
            t.requests.insert(method.clone(), *n);
        }
    }
    SimStats {
        requests: s.requests.iter().map(|(k, v)| (k.clone(), *v)).collect(),
        requests_total: s.total,
        batch_items: s.batch_items.iter().map(|(k, v)| (k.clone(), *v)).collect(),
        responses: s
            .responses
            .iter()
            .map(|(k, v)| (k.to_string(), *v))
            .collect(),
        faults: s.faults.iter().map(|(k, v)| (k.clone(), *v)).collect(),
        tables,
    }
}
