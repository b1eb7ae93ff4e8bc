//! Who and what a ticket names as written: the caller, the groups and people it is assigned
//! to, its categories, and its tags.

use super::Site;
use crate::mapping::MappingError;
use crate::mapping::profile::Caller;
use crate::mapping::raw::RawProfile;

/// The validated `assignment_group`, `business_service`, `category`, `subcategory` and
/// `assigned_to`: each absent or not blank.
pub(super) struct References {
    pub(super) assignment_group: Option<String>,
    pub(super) business_service: Option<String>,
    pub(super) category: Option<String>,
    pub(super) subcategory: Option<String>,
    pub(super) assigned_to: Option<String>,
}

/// `caller` and `caller_user`: the finding's subject, a fixed user, or nobody.
pub(super) fn caller(site: &Site<'_>, raw: &RawProfile) -> Result<Caller, MappingError> {
    let caller_user = site.text("caller_user", raw.caller_user.as_ref())?;
    Ok(match (raw.caller.as_deref(), caller_user) {
        (None | Some("subject"), None) => Caller::Subject,
        (Some("none"), None) => Caller::None,
        (Some("fixed"), Some(user)) => Caller::Fixed(user),
        (Some("fixed"), None) => {
            return Err(site.fail(
                "caller",
                "`caller = \"fixed\"` needs `caller_user` (a user name or email)".to_owned(),
            ));
        }
        (_, Some(_)) => {
            return Err(site.fail(
                "caller_user",
                "only used with `caller = \"fixed\"`".to_owned(),
            ));
        }
        (Some(other), None) => {
            return Err(site.fail(
                "caller",
                format!("unknown caller `{other}` (expected subject, fixed or none)"),
            ));
        }
    })
}

/// Tags in the order written, duplicates dropped, none blank.
pub(super) fn tags(site: &Site<'_>, raw: &RawProfile) -> Result<Vec<String>, MappingError> {
    let mut tags: Vec<String> = Vec::new();
    for tag in &raw.tags {
        if tag.trim().is_empty() {
            return Err(site.fail("tags", "a tag must not be empty".to_owned()));
        }
        if !tags.contains(tag) {
            tags.push(tag.clone());
        }
    }
    Ok(tags)
}

/// `assignment_group`, `business_service`, `category`, `subcategory` and `assigned_to`.
pub(super) fn references(site: &Site<'_>, raw: &RawProfile) -> Result<References, MappingError> {
    Ok(References {
        assignment_group: site.text("assignment_group", raw.assignment_group.as_ref())?,
        business_service: site.text("business_service", raw.business_service.as_ref())?,
        category: site.text("category", raw.category.as_ref())?,
        subcategory: site.text("subcategory", raw.subcategory.as_ref())?,
        assigned_to: site.text("assigned_to", raw.assigned_to.as_ref())?,
    })
}
