//! Table API operations: create, get, patch, paged queries, lookup by `correlation_id`, and
//! journal entries. Every read names its fields (`sysparm_fields`).

use reqwest::{Method, StatusCode};
use serde_json::{Map, Value};

use super::Client;
use super::error::ServiceNowError;
use super::transport::{self, Call};
use super::wire::{self, Record, ResultBody};

/// The largest page the instance serves (its default row cap).
pub(crate) const MAX_PAGE: u32 = 10_000;

/// A journal field: entries are appended, never overwritten.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Journal {
    /// `work_notes`: visible to the help desk only.
    WorkNotes,
    /// `comments`: "Additional comments", visible to the caller.
    Comments,
}

impl Journal {
    /// The field name to write the entry into.
    pub fn field(self) -> &'static str {
        match self {
            Self::WorkNotes => "work_notes",
            Self::Comments => "comments",
        }
    }
}

/// One page of a query and what the headers said about the rest.
pub(crate) struct Page {
    pub rows: Vec<Record>,
    pub total: Option<u64>,
    /// The offset of the `next` link, when the header had one pointing forward.
    pub next: Option<u64>,
    /// The `Link` header was present but named no `next` page.
    pub last: bool,
}

pub(crate) fn table_path(table: &str) -> Result<String, ServiceNowError> {
    wire::check_table(table).map_err(ServiceNowError::InvalidRequest)?;
    Ok(format!("api/now/table/{table}"))
}

pub(crate) fn record_path(table: &str, sys_id: &str) -> Result<String, ServiceNowError> {
    wire::check_sys_id(sys_id).map_err(ServiceNowError::InvalidRequest)?;
    Ok(format!("{}/{sys_id}", table_path(table)?))
}

pub(crate) fn fields_param(fields: &[&str]) -> Result<(&'static str, String), ServiceNowError> {
    let list = wire::field_list(fields).map_err(ServiceNowError::InvalidRequest)?;
    Ok(("sysparm_fields", list))
}

/// Reference fields as plain sys_ids rather than `{link, value}`: smaller, and the same shape
/// [`Record::reference`] reads either way.
pub(crate) const NO_LINKS: (&str, &str) = ("sysparm_exclude_reference_link", "true");

/// Actual values, said explicitly: they are what [`Record`] reads, and only they keep
/// date-times in UTC (display values are in the integration user's time zone).
pub(crate) const ACTUAL_VALUES: (&str, &str) = ("sysparm_display_value", "false");

impl Client {
    /// Creates a record (`POST`, 201) and returns `return_fields` of it (plus `sys_id`).
    pub async fn create(
        &self,
        table: &str,
        fields: &Map<String, Value>,
        return_fields: &[&str],
    ) -> Result<Record, ServiceNowError> {
        let body = Value::Object(fields.clone());
        let call = Call {
            op: "create",
            method: Method::POST,
            path: table_path(table)?,
            query: vec![fields_param(return_fields)?, own(NO_LINKS)],
            body: Some(&body),
            lasting: None,
        };
        self.transport().one(&call).await
    }

    /// Updates the given fields only (`PATCH`) and returns `return_fields` of the record.
    pub async fn patch(
        &self,
        table: &str,
        sys_id: &str,
        fields: &Map<String, Value>,
        return_fields: &[&str],
    ) -> Result<Record, ServiceNowError> {
        let body = Value::Object(fields.clone());
        let call = Call {
            op: "patch",
            method: Method::PATCH,
            path: record_path(table, sys_id)?,
            query: vec![fields_param(return_fields)?, own(NO_LINKS)],
            body: Some(&body),
            lasting: None,
        };
        self.transport().one(&call).await
    }

    /// Appends one journal entry (`work_notes` or `comments`) to a record.
    pub async fn add_journal(
        &self,
        table: &str,
        sys_id: &str,
        journal: Journal,
        text: &str,
        return_fields: &[&str],
    ) -> Result<Record, ServiceNowError> {
        let mut fields = Map::new();
        fields.insert(journal.field().to_owned(), Value::String(text.to_owned()));
        self.patch(table, sys_id, &fields, return_fields).await
    }

    /// Reads one record; `None` when the instance answers 404 (absent, or hidden by an ACL).
    pub async fn get(
        &self,
        table: &str,
        sys_id: &str,
        fields: &[&str],
    ) -> Result<Option<Record>, ServiceNowError> {
        let call = Call {
            op: "get",
            method: Method::GET,
            path: record_path(table, sys_id)?,
            query: vec![fields_param(fields)?, own(NO_LINKS)],
            body: None,
            lasting: None,
        };
        let reply = self.transport().send(&call).await?;
        if reply.status == StatusCode::NOT_FOUND && !reply.is_html() {
            return Ok(None);
        }
        let reply = transport::success(&call.method, &call.endpoint(), reply)?;
        match transport::decode(&call.method, &call.endpoint(), &reply)? {
            ResultBody::One(r) => Ok(Some(r)),
            ResultBody::Many(mut rows) if rows.len() <= 1 => Ok(rows.pop()),
            _ => Err(ServiceNowError::Decode {
                method: call.method.clone(),
                endpoint: call.endpoint(),
                message: "expected one record, got a list".into(),
            }),
        }
    }

    /// Every record matching `encoded_query`, `page_size` at a time.
    ///
    /// Pages advance by offset: to the `next` link's offset when the `Link` header has one
    /// pointing forward, else by `page_size`. The `prev` link is never followed (on the first
    /// page real instances send one with offset -1). Paging stops when the `Link` header names
    /// no `next`, at `X-Total-Count`, or, without a count, at a short page. With a count, a
    /// short page does not stop it: the instance applies the limit before ACLs.
    /// Without `ORDERBY` in the query, `ORDERBYsys_id` keeps the pages stable.
    pub async fn query(
        &self,
        table: &str,
        encoded_query: &str,
        fields: &[&str],
        page_size: u32,
    ) -> Result<Vec<Record>, ServiceNowError> {
        self.paged(table, encoded_query, fields, page_size, "query")
            .await
    }

    /// [`Client::query`] with `op` labelling the metrics of its requests.
    pub(crate) async fn paged(
        &self,
        table: &str,
        encoded_query: &str,
        fields: &[&str],
        page_size: u32,
        op: &'static str,
    ) -> Result<Vec<Record>, ServiceNowError> {
        let limit = page_size.clamp(1, MAX_PAGE);
        let query = if encoded_query.contains("ORDERBY") {
            encoded_query.to_owned()
        } else if encoded_query.is_empty() {
            "ORDERBYsys_id".to_owned()
        } else {
            format!("{encoded_query}^ORDERBYsys_id")
        };
        let mut out = Vec::new();
        let mut offset = 0u64;
        loop {
            let page = self
                .query_page(table, &query, fields, limit, offset, op)
                .await?;
            let got = page.rows.len() as u64;
            out.extend(page.rows);
            let next = page.next.unwrap_or(offset + u64::from(limit));
            let done = page.last
                || match page.total {
                    Some(total) => next >= total,
                    None => got < u64::from(limit),
                };
            if done {
                return Ok(out);
            }
            offset = next;
        }
    }

    /// Records whose `correlation_id` equals `correlation_id` (normally zero or one).
    pub async fn find_by_correlation_id(
        &self,
        table: &str,
        correlation_id: &str,
        fields: &[&str],
    ) -> Result<Vec<Record>, ServiceNowError> {
        let query =
            wire::eq("correlation_id", correlation_id).map_err(ServiceNowError::InvalidRequest)?;
        self.query(table, &query, fields, 100).await
    }

    /// One page of a query, as sent; `op` labels the metrics.
    pub(crate) async fn query_page(
        &self,
        table: &str,
        encoded_query: &str,
        fields: &[&str],
        limit: u32,
        offset: u64,
        op: &'static str,
    ) -> Result<Page, ServiceNowError> {
        let call = Call {
            op,
            method: Method::GET,
            path: table_path(table)?,
            query: vec![
                ("sysparm_query", encoded_query.to_owned()),
                fields_param(fields)?,
                own(NO_LINKS),
                own(ACTUAL_VALUES),
                ("sysparm_limit", limit.to_string()),
                ("sysparm_offset", offset.to_string()),
            ],
            body: None,
            lasting: None,
        };
        let reply = self.transport().send_ok(&call).await?;
        let rows = match transport::decode(&call.method, &call.endpoint(), &reply)? {
            ResultBody::Many(rows) => rows,
            ResultBody::One(r) => vec![r],
            ResultBody::Missing => Vec::new(),
        };
        let link = reply.header("link");
        let next = link
            .and_then(|l| wire::link_offset(l, "next"))
            .and_then(|n| u64::try_from(n).ok())
            .filter(|n| *n > offset);
        let last = link.is_some_and(|l| !l.trim().is_empty() && !wire::has_link(l, "next"));
        Ok(Page {
            rows,
            total: reply.total_count(),
            next,
            last,
        })
    }
}

pub(crate) fn own((k, v): (&'static str, &str)) -> (&'static str, String) {
    (k, v.to_owned())
}
