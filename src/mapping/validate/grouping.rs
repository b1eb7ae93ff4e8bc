//! `group_by` and `group_cap`: one ticket per subject, or one per check listing its subjects.

use super::Site;
use crate::mapping::MappingError;
use crate::mapping::profile::GroupBy;
use crate::mapping::raw::RawProfile;

/// The default cap on subjects listed in one grouped ticket.
pub const DEFAULT_GROUP_CAP: u32 = 50;

pub(super) fn group_by(site: &Site<'_>, raw: &RawProfile) -> Result<GroupBy, MappingError> {
    match (raw.group_by.as_deref(), raw.group_cap) {
        (None | Some("subject"), None) => Ok(GroupBy::Subject),
        (None | Some("subject"), Some(_)) => Err(site.fail(
            "group_cap",
            "only used with `group_by = \"check\"`".to_owned(),
        )),
        (Some("check"), _) if raw.reopen_within.is_some() => Err(site.fail(
            "reopen_within",
            "reopens one subject's ticket; with `group_by = \"check\"` a check failing again after its ticket closed opens the next ticket of the group, which names the closed one".to_owned(),
        )),
        (Some("check"), cap) => Ok(GroupBy::Check {
            cap: match cap {
                None => DEFAULT_GROUP_CAP,
                Some(c) => u32::try_from(c).ok().filter(|c| *c > 0).ok_or_else(|| {
                    site.fail("group_cap", format!("must be a positive number, not {c}"))
                })?,
            },
        }),
        (Some(other), _) => Err(site.fail(
            "group_by",
            format!("unknown grouping `{other}` (expected subject or check)"),
        )),
    }
}
