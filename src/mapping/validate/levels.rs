//! The table a profile writes to, and its impact and urgency: fixed, or per severity.

use std::collections::BTreeMap;

use super::{Site, scalar};
use crate::domain::{Level, Severity};
use crate::mapping::MappingError;
use crate::mapping::profile::Table;
use crate::mapping::raw::RawProfile;

/// The validated `impact`, `urgency` and `severity_map`.
pub(super) struct Levels {
    pub(super) impact: Option<Level>,
    pub(super) urgency: Option<Level>,
    pub(super) severity_map: BTreeMap<Severity, (Level, Level)>,
}

pub(super) fn table(site: &Site<'_>, table: &str) -> Result<Table, MappingError> {
    Table::parse(table).ok_or_else(|| {
        site.fail(
            "table",
            format!("unknown table `{table}` (expected incident, sc_request or sn_si_incident)"),
        )
    })
}

/// `impact`, `urgency` and `severity_map`.
pub(super) fn levels(site: &Site<'_>, raw: &RawProfile) -> Result<Levels, MappingError> {
    let level_of =
        |key, value: &Option<toml::Value>| value.as_ref().map(|v| level(site, key, v)).transpose();
    let impact = level_of("impact", &raw.impact)?;
    let urgency = level_of("urgency", &raw.urgency)?;
    let mut severity_map = BTreeMap::new();
    for (text, levels) in &raw.severity_map {
        let key = format!("severity_map.{text}");
        let severity = Severity::parse(text).ok_or_else(|| {
            site.fail(
                &key,
                format!("unknown severity `{text}` (expected info, low, medium, high or critical)"),
            )
        })?;
        let pair = (
            level(site, &format!("{key}.impact"), &levels.impact)?,
            level(site, &format!("{key}.urgency"), &levels.urgency)?,
        );
        severity_map.insert(severity, pair);
    }
    Ok(Levels {
        impact,
        urgency,
        severity_map,
    })
}

fn level(site: &Site<'_>, key: &str, value: &toml::Value) -> Result<Level, MappingError> {
    scalar(value)
        .as_deref()
        .and_then(Level::parse)
        .ok_or_else(|| {
            site.fail(
                key,
                format!(
                    "`{value}` is not an impact/urgency (expected high, medium, low or 1, 2, 3)"
                ),
            )
        })
}
