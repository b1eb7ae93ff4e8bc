//! Tags: a `label` found or created by name, attached to a record with a `label_entry`.
//! Attaching is idempotent: an existing entry is left as it is.

use std::collections::HashMap;

use reqwest::Method;
use serde_json::{Map, Value};
use tracing::info;

use super::Client;
use super::error::ServiceNowError;
use super::table::{NO_LINKS, fields_param, own, table_path};
use super::transport::Call;
use super::wire;

/// Label sys_ids by name. The async lock also makes get-or-create single-flight, so two
/// callers never create the same label twice.
#[derive(Default)]
pub(crate) struct Cache(tokio::sync::Mutex<HashMap<String, String>>);

impl Client {
    /// Tags `table`/`sys_id` with `label`, creating the label when it does not exist yet.
    pub async fn add_tag(
        &self,
        table: &str,
        sys_id: &str,
        label: &str,
    ) -> Result<(), ServiceNowError> {
        wire::check_table(table).map_err(ServiceNowError::InvalidRequest)?;
        wire::check_sys_id(sys_id).map_err(ServiceNowError::InvalidRequest)?;
        let label_id = self.label_id(label).await?;
        self.attach_label(&label_id, table, sys_id).await.map(drop)
    }

    /// The sys_id of the label named `name`, created when missing.
    /// Attaches every label in `labels` to the record, in as few requests as it can:
    /// one read of the record's existing entries (skipped when `known_untagged`, e.g.
    /// right after snowsync created the record), then the missing entries, several at
    /// once through the Batch API. Safe to repeat: entries already there are not added.
    pub async fn add_tags(
        &self,
        table: &str,
        sys_id: &str,
        labels: &[String],
        known_untagged: bool,
    ) -> Result<(), ServiceNowError> {
        wire::check_table(table).map_err(ServiceNowError::InvalidRequest)?;
        wire::check_sys_id(sys_id).map_err(ServiceNowError::InvalidRequest)?;
        let mut wanted = Vec::new();
        for label in labels {
            let id = self.label_id(label).await?;
            if !wanted.contains(&id) {
                wanted.push(id);
            }
        }
        if !known_untagged && !wanted.is_empty() {
            let query = [wire::eq("table", table), wire::eq("table_key", sys_id)]
                .into_iter()
                .collect::<Result<Vec<_>, _>>()
                .map_err(ServiceNowError::InvalidRequest)?
                .join("^");
            let existing = self.query("label_entry", &query, &["label"], 100).await?;
            wanted.retain(|id| {
                !existing
                    .iter()
                    .any(|e| e.reference("label") == Some(id.as_str()))
            });
        }
        let entry = |label_id: &str| {
            let mut fields = Map::new();
            fields.insert("label".into(), label_id.into());
            fields.insert("table".into(), table.into());
            fields.insert("table_key".into(), sys_id.into());
            fields
        };
        match wanted.as_slice() {
            [] => Ok(()),
            [one] => self
                .write("tag", Method::POST, "label_entry", &entry(one))
                .await
                .map(drop),
            several if !self.batch_usable() => {
                for id in several {
                    self.write("tag", Method::POST, "label_entry", &entry(id))
                        .await?;
                }
                Ok(())
            }
            several => {
                let requests = several
                    .iter()
                    .enumerate()
                    .map(|(i, id)| {
                        super::BatchRequest::create(
                            format!("tag{i}"),
                            "label_entry",
                            &entry(id),
                            &["sys_id"],
                        )
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                match self.batch(requests).await {
                    Ok(responses) => {
                        for response in responses {
                            response.result?;
                        }
                    }
                    // Nothing of the call ran: the entries go one by one.
                    Err(err) if err.refuses_batch_api() => {
                        for id in several {
                            self.write("tag", Method::POST, "label_entry", &entry(id))
                                .await?;
                        }
                    }
                    Err(err) => return Err(err),
                }
                Ok(())
            }
        }
    }

    pub(crate) async fn label_id(&self, name: &str) -> Result<String, ServiceNowError> {
        let name = name.trim();
        if name.is_empty() {
            return Err(ServiceNowError::InvalidRequest(
                "a tag name cannot be empty".into(),
            ));
        }
        let mut cache = self.inner.labels.0.lock().await;
        if let Some(id) = cache.get(name) {
            return Ok(id.clone());
        }
        let query = format!(
            "{}^ORDERBYsys_created_on",
            wire::eq("name", name).map_err(ServiceNowError::InvalidRequest)?
        );
        let page = self
            .query_page("label", &query, &["name"], 1, 0, "tag")
            .await?;
        let id = match page.rows.first().and_then(|r| r.sys_id()) {
            Some(id) => id.to_owned(),
            None => {
                let mut fields = Map::new();
                fields.insert("name".into(), name.into());
                fields.insert("type".into(), "standard".into());
                fields.insert("viewable_by".into(), "everyone".into());
                fields.insert("active".into(), "true".into());
                let created = self.write("tag", Method::POST, "label", &fields).await?;
                info!(label = name, "created ServiceNow tag");
                created
            }
        };
        cache.insert(name.to_owned(), id.clone());
        Ok(id)
    }

    /// Links a label to a record unless already linked; returns the `label_entry` sys_id and
    /// whether it was created now.
    pub(crate) async fn attach_label(
        &self,
        label_id: &str,
        table: &str,
        sys_id: &str,
    ) -> Result<(String, bool), ServiceNowError> {
        let query = [
            wire::eq("label", label_id),
            wire::eq("table", table),
            wire::eq("table_key", sys_id),
        ]
        .into_iter()
        .collect::<Result<Vec<_>, _>>()
        .map_err(ServiceNowError::InvalidRequest)?
        .join("^");
        let page = self
            .query_page("label_entry", &query, &["label", "table_key"], 1, 0, "tag")
            .await?;
        if let Some(id) = page.rows.first().and_then(|r| r.sys_id()) {
            return Ok((id.to_owned(), false));
        }
        let mut fields = Map::new();
        fields.insert("label".into(), label_id.into());
        fields.insert("table".into(), table.into());
        fields.insert("table_key".into(), sys_id.into());
        let id = self
            .write("tag", Method::POST, "label_entry", &fields)
            .await?;
        Ok((id, true))
    }

    /// A POST to a table returning the new sys_id.
    async fn write(
        &self,
        op: &'static str,
        method: Method,
        table: &str,
        fields: &Map<String, Value>,
    ) -> Result<String, ServiceNowError> {
        let body = Value::Object(fields.clone());
        let call = Call {
            op,
            method,
            path: table_path(table)?,
            query: vec![fields_param(&[])?, own(NO_LINKS)],
            body: Some(&body),
            lasting: None,
        };
        let record = self.transport().one(&call).await?;
        record
            .sys_id()
            .map(str::to_owned)
            .ok_or_else(|| ServiceNowError::Decode {
                method: call.method.clone(),
                endpoint: call.endpoint(),
                message: "the created record has no sys_id".into(),
            })
    }
}
