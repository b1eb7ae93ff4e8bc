//! The body of a source notification raised by a ticket change: the finding, its ticket
//! (number and a link into the instance), the transition, who acted and when.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use url::Url;

use super::transition::Transition;
use crate::servicenow::record_link;
use crate::store::entity::{finding, ticket_link};

/// What one transition tells the source.
pub struct Notice<'a> {
    pub transition: Transition,
    pub finding: &'a finding::Model,
    pub link: &'a ticket_link::Model,
    /// The ServiceNow user who made the change (`sys_updated_by`).
    pub actor: &'a str,
    /// When ServiceNow recorded the change.
    pub at: DateTime<Utc>,
    /// The approver's comment, for decisions.
    pub comment: Option<&'a str>,
}

impl Notice<'_> {
    pub fn body(&self, instance: &Url) -> Value {
        let f = self.finding;
        let l = self.link;
        json!({
            "event": self.transition.notification_event(),
            "finding": {
                "id": f.id,
                "key": f.finding_key,
                "source": f.source,
                "kind": f.kind,
                "check_id": f.check_id,
                "subject": f.subject,
                "title": f.title,
            },
            "ticket": {
                "table": l.table_name,
                "number": l.number,
                "sys_id": l.sys_id,
                "url": l.sys_id.as_deref().and_then(|id| record_link(instance, &l.table_name, id)),
            },
            "actor": self.actor,
            "at": self.at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            "comment": self.comment,
        })
    }
}
