//! `[profile.NAME.fields]`: custom ticket fields, each filled from an inline template, never one
//! that the profile or ServiceNow already fills.

use super::{PRIORITY, Site, field_name};
use crate::mapping::MappingError;
use crate::mapping::profile::CustomField;
use crate::mapping::raw::RawProfile;
use crate::template::InlineTemplate;

/// Fields the profile fills from its own keys or templates; a custom mapping may not.
const RESERVED: &[(&str, &str)] = &[
    (
        "short_description",
        "the `templates.short_description` template",
    ),
    ("description", "the `templates.description` template"),
    ("work_notes", "the `templates.work_note` template"),
    ("close_notes", "the `templates.close_notes` template"),
    (
        "comments",
        "nothing: snowsync writes work notes, not customer-visible comments",
    ),
    ("impact", "the `impact` key"),
    ("urgency", "the `urgency` key"),
    ("state", "the `state` keys"),
    ("incident_state", "the `state` keys"),
    ("close_code", "the `close_code` key"),
    ("category", "the `category` key"),
    ("subcategory", "the `subcategory` key"),
    ("assignment_group", "the `assignment_group` key"),
    ("business_service", "the `business_service` key"),
    ("assigned_to", "the `assigned_to` key"),
    ("caller_id", "the `caller` key"),
    ("requested_for", "the `caller` key"),
    ("affected_user", "the `caller` key"),
    ("correlation_id", "snowsync itself (one ticket per finding)"),
];

pub(super) fn fields(site: &Site<'_>, raw: &RawProfile) -> Result<Vec<CustomField>, MappingError> {
    raw.fields
        .iter()
        .map(|(field, source)| custom_field(site, field, source))
        .collect()
}

fn custom_field(site: &Site<'_>, field: &str, source: &str) -> Result<CustomField, MappingError> {
    let key = format!("fields.{field}");
    if field == "priority" {
        return Err(site.fail(&key, PRIORITY.to_owned()));
    }
    field_name(field).map_err(|m| site.fail(&key, m))?;
    if let Some((_, by)) = RESERVED.iter().find(|(f, _)| *f == field) {
        return Err(site.fail(
            &key,
            format!("`{field}` is set by {by}, not by a custom mapping"),
        ));
    }
    if field.starts_with("sys_") || field == "number" {
        return Err(site.fail(
            &key,
            format!("`{field}` is a system field ServiceNow maintains; a write cannot set it"),
        ));
    }
    let template = InlineTemplate::compile(source)
        .map_err(|m| site.fail(&key, format!("template does not compile: {m}")))?;
    Ok(CustomField {
        name: field.to_owned(),
        template,
    })
}
