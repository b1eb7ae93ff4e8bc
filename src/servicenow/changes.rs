//! Reverse sync's reads: the records of our tickets (and the approvals of our requests) that
//! changed at or after a watermark, in one paged query per table. Builds the encoded queries
//! and pages through [`Client::paged`]; it keeps no watermark and decides nothing.

use chrono::{DateTime, Utc};

use super::Client;
use super::error::ServiceNowError;
use super::table::Journal;
use super::wire::{self, Op, Record};
use crate::domain::CORRELATION_PREFIX;

/// Rows per request when the caller names no page size: large enough that a normal poll is one
/// request, well under the 10,000 rows an instance serves at most.
pub const CHANGES_PAGE_SIZE: u32 = 1000;

/// The table holding approval decisions.
pub const APPROVALS_TABLE: &str = "sysapproval_approver";

/// Whose changes a poll reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeScope<'a> {
    /// Records of a ticket table (`incident`, `sc_request`) whose `correlation_id` is ours.
    Tickets(&'a str),
    /// `sysapproval_approver` records whose approved task (`sysapproval`) is one of ours.
    Approvals,
}

impl ChangeScope<'_> {
    /// The table the query goes to.
    pub fn table(&self) -> &str {
        match self {
            Self::Tickets(table) => table,
            Self::Approvals => APPROVALS_TABLE,
        }
    }

    /// The field that tells our records from the rest. Approvals carry no correlation id of
    /// their own, so the condition dot-walks into the approved task, as list filters do on a
    /// real instance ("Dot-walking examples" in the platform documentation).
    fn ours(&self) -> &'static str {
        match self {
            Self::Tickets(_) => "correlation_id",
            Self::Approvals => "sysapproval.correlation_id",
        }
    }
}

/// The encoded query of one page of a poll: ours, changed at or after `since`, and after
/// the `(sys_updated_on, sys_id)` of the last row already read, oldest change first.
///
/// `>=` rather than `>` for `since`: `sys_updated_on` has whole seconds, so a record changed
/// in the watermark's second after the previous poll read it would otherwise be lost. The
/// poller sees such records twice and must treat a repeat (same `sys_mod_count`) as no change.
///
/// Pages are keyed on the last row read rather than on an offset: while a poll pages through
/// the list, a record read on an earlier page may change again and move to the end, and with
/// offsets every later row would shift one place back and one would be skipped. With a key
/// the moved record is read once more later, and nothing is skipped. `^NQ` ORs the two
/// halves of "after the key", each repeating the other conditions, as the syntax groups.
pub(crate) fn changes_query(
    scope: ChangeScope<'_>,
    since: Option<DateTime<Utc>>,
    after: Option<(DateTime<Utc>, &str)>,
) -> Result<String, ServiceNowError> {
    let ours = wire::condition(scope.ours(), Op::StartsWith, CORRELATION_PREFIX);
    let mut order = vec![wire::order_by("sys_updated_on"), wire::order_by("sys_id")];
    let parts = match after {
        None => {
            let mut parts = vec![ours];
            if let Some(at) = since {
                parts.push(wire::condition(
                    "sys_updated_on",
                    Op::AtLeast,
                    &wire::format_datetime(at),
                ));
            }
            parts.append(&mut order);
            parts
        }
        Some((at, sys_id)) => {
            let at = wire::format_datetime(at);
            let mut parts = vec![
                ours.clone(),
                wire::condition("sys_updated_on", Op::After, &at),
                Ok("NQ".to_owned()),
                ours,
                wire::condition("sys_updated_on", Op::Eq, &at),
                wire::condition("sys_id", Op::After, sys_id),
            ];
            parts.append(&mut order);
            parts
        }
    };
    let parts = parts
        .into_iter()
        .collect::<Result<Vec<_>, _>>()
        .map_err(ServiceNowError::InvalidRequest)?;
    // `NQ` is joined without its own `^`: `a^NQb`.
    Ok(parts.join("^").replace("^NQ^", "^NQ"))
}

impl Client {
    /// Records of `table` whose `correlation_id` starts with `snowsync:` and whose
    /// `sys_updated_on` is at or after `since` (all of them without `since`), oldest change
    /// first, with `fields` plus `sys_id`; [`CHANGES_PAGE_SIZE`] rows per request.
    pub async fn changed_since(
        &self,
        table: &str,
        since: Option<DateTime<Utc>>,
        fields: &[&str],
    ) -> Result<Vec<Record>, ServiceNowError> {
        self.changes(
            ChangeScope::Tickets(table),
            since,
            fields,
            CHANGES_PAGE_SIZE,
        )
        .await
    }

    /// Approval records (`sysapproval_approver`) of our tickets changed at or after `since`;
    /// otherwise as [`Client::changed_since`].
    pub async fn approvals_changed_since(
        &self,
        since: Option<DateTime<Utc>>,
        fields: &[&str],
    ) -> Result<Vec<Record>, ServiceNowError> {
        self.changes(ChangeScope::Approvals, since, fields, CHANGES_PAGE_SIZE)
            .await
    }

    /// The records of `scope` changed at or after `since`, `page_size` rows per request
    /// (`poller.page_size`), every page read: one request when nothing changed.
    /// Date-times come back as actual values, so in UTC whatever the user's time zone.
    /// A record that changes again while the pages are read may come back twice.
    pub async fn changes(
        &self,
        scope: ChangeScope<'_>,
        since: Option<DateTime<Utc>>,
        fields: &[&str],
        page_size: u32,
    ) -> Result<Vec<Record>, ServiceNowError> {
        let limit = page_size.clamp(1, super::table::MAX_PAGE);
        let mut fields: Vec<&str> = fields.to_vec();
        for key in ["sys_id", "sys_updated_on"] {
            if !fields.contains(&key) {
                fields.push(key);
            }
        }
        let mut out: Vec<Record> = Vec::new();
        let mut after: Option<(DateTime<Utc>, String)> = None;
        loop {
            let key = after.as_ref().map(|(at, id)| (*at, id.as_str()));
            let query = changes_query(scope, since, key)?;
            let page = self
                .query_page(scope.table(), &query, &fields, limit, 0, "changes")
                .await?;
            let full = page.rows.len() as u64 >= u64::from(limit);
            let last = page
                .rows
                .last()
                .and_then(|r| Some((r.updated_on()?, r.sys_id()?.to_owned())));
            out.extend(page.rows);
            match (full, last) {
                (true, Some(next)) => after = Some(next),
                _ => return Ok(out),
            }
        }
    }
}

/// sys_ids per journal request: keeps the URL well under the lengths proxies accept.
const JOURNAL_IDS_PER_REQUEST: usize = 100;

impl Client {
    /// The entries of `journal` on the given records of `table`, oldest first, as
    /// `sys_journal_field` rows (`element_id`, `value`, `sys_created_by`, `sys_created_on`).
    ///
    /// Actual values read journal fields as `""`, so a poll that needs the words of a change
    /// (an approver's comment) reads them here; one request per hundred records, none for
    /// none. Reading `sys_journal_field` over REST is believed, not captured (open question 15).
    pub async fn journal_entries(
        &self,
        table: &str,
        sys_ids: &[&str],
        journal: Journal,
    ) -> Result<Vec<Record>, ServiceNowError> {
        let mut out = Vec::new();
        for chunk in sys_ids.chunks(JOURNAL_IDS_PER_REQUEST) {
            for id in chunk {
                wire::check_sys_id(id).map_err(ServiceNowError::InvalidRequest)?;
            }
            let query = [
                wire::eq("name", table),
                wire::eq("element", journal.field()),
                Ok(format!("element_idIN{}", chunk.join(","))),
                wire::order_by("sys_created_on"),
            ]
            .into_iter()
            .collect::<Result<Vec<_>, _>>()
            .map_err(ServiceNowError::InvalidRequest)?
            .join("^");
            let fields = ["element_id", "value", "sys_created_by", "sys_created_on"];
            out.extend(
                self.paged(
                    "sys_journal_field",
                    &query,
                    &fields,
                    CHANGES_PAGE_SIZE,
                    "changes",
                )
                .await?,
            );
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(scope: ChangeScope<'_>, since: Option<&str>, expect: &str) {
        let since = since.map(|s| wire::parse_datetime(s).unwrap());
        assert_eq!(changes_query(scope, since, None).unwrap(), expect);
    }

    #[test]
    fn change_queries_select_ours_since_the_watermark_in_a_total_order() {
        check(
            ChangeScope::Tickets("incident"),
            Some("2026-03-01 08:00:05"),
            "correlation_idSTARTSWITHsnowsync:^sys_updated_on>=2026-03-01 08:00:05\
             ^ORDERBYsys_updated_on^ORDERBYsys_id",
        );
        check(
            ChangeScope::Tickets("sc_request"),
            None,
            "correlation_idSTARTSWITHsnowsync:^ORDERBYsys_updated_on^ORDERBYsys_id",
        );
        check(
            ChangeScope::Approvals,
            Some("2026-03-01 08:00:05"),
            "sysapproval.correlation_idSTARTSWITHsnowsync:^sys_updated_on>=2026-03-01 08:00:05\
             ^ORDERBYsys_updated_on^ORDERBYsys_id",
        );
    }

    #[test]
    fn a_later_page_is_keyed_on_the_last_row_read() {
        let at = wire::parse_datetime("2026-03-01 08:00:05").unwrap();
        let q = changes_query(
            ChangeScope::Tickets("incident"),
            Some(at),
            Some((at, "0123456789abcdef0123456789abcdef")),
        )
        .unwrap();
        assert_eq!(
            q,
            "correlation_idSTARTSWITHsnowsync:^sys_updated_on>2026-03-01 08:00:05\
             ^NQcorrelation_idSTARTSWITHsnowsync:^sys_updated_on=2026-03-01 08:00:05\
             ^sys_id>0123456789abcdef0123456789abcdef^ORDERBYsys_updated_on^ORDERBYsys_id"
        );
    }

    #[test]
    fn a_watermark_with_a_fraction_of_a_second_keeps_its_whole_second() {
        let since = wire::parse_datetime("2026-03-01 08:00:05").unwrap()
            + chrono::Duration::milliseconds(900);
        let q = changes_query(ChangeScope::Tickets("incident"), Some(since), None).unwrap();
        assert!(q.contains("sys_updated_on>=2026-03-01 08:00:05^"), "{q}");
    }

    #[test]
    fn approvals_are_read_from_the_approval_table() {
        assert_eq!(ChangeScope::Approvals.table(), "sysapproval_approver");
        assert_eq!(ChangeScope::Tickets("incident").table(), "incident");
    }
}
