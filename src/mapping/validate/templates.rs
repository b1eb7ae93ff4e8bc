//! `[profile.NAME.templates]`: which template renders each text field, by name.

use super::Site;
use crate::mapping::MappingError;
use crate::mapping::profile::{ProfileTemplates, Table};
use crate::mapping::raw::RawProfile;

/// The default templates of the table (and grouping), with those the profile names instead.
pub(super) fn templates(
    site: &Site<'_>,
    table: Table,
    grouped: bool,
    raw: &RawProfile,
) -> Result<ProfileTemplates, MappingError> {
    let raw = &raw.templates;
    let mut templates = ProfileTemplates::defaults(table, grouped);
    for (key, value, slot) in [
        (
            "templates.short_description",
            &raw.short_description,
            &mut templates.short_description,
        ),
        (
            "templates.description",
            &raw.description,
            &mut templates.description,
        ),
        (
            "templates.work_note",
            &raw.work_note,
            &mut templates.work_note,
        ),
        (
            "templates.close_notes",
            &raw.close_notes,
            &mut templates.close_notes,
        ),
    ] {
        if let Some(value) = value {
            *slot = template_name(site, key, value)?;
        }
    }
    Ok(templates)
}

/// A template name, with or without `.hbs`, never a path.
fn template_name(site: &Site<'_>, key: &str, value: &str) -> Result<String, MappingError> {
    let stem = value.strip_suffix(".hbs").unwrap_or(value);
    if stem.is_empty() || stem.contains(['/', '\\']) {
        return Err(site.fail(
            key,
            format!("`{value}` is not a template name such as \"description\""),
        ));
    }
    Ok(stem.to_owned())
}
