//! The starter files compiled into the binary: the shipped mappings, templates and example
//! configuration. They are used when no mappings or templates folder is configured or found,
//! so `demo`, `sim` and a container with no files work, and `snowsync init DIR` writes them
//! out for an admin to edit. Nothing here reads the filesystem.

use std::path::{Path, PathBuf};

/// The shipped mapping files, by file name, in load order.
pub const MAPPINGS: [(&str, &str); 3] = [
    ("10-oort.toml", include_str!("../mappings/10-oort.toml")),
    (
        "20-approvals.toml",
        include_str!("../mappings/20-approvals.toml"),
    ),
    (
        "90-default.toml",
        include_str!("../mappings/90-default.toml"),
    ),
];

/// The shipped templates, by file name.
pub const TEMPLATES: [(&str, &str); 9] = [
    (
        "approval_description.hbs",
        include_str!("../templates/approval_description.hbs"),
    ),
    (
        "group_close_notes.hbs",
        include_str!("../templates/group_close_notes.hbs"),
    ),
    (
        "group_description.hbs",
        include_str!("../templates/group_description.hbs"),
    ),
    (
        "group_short_description.hbs",
        include_str!("../templates/group_short_description.hbs"),
    ),
    (
        "group_work_note.hbs",
        include_str!("../templates/group_work_note.hbs"),
    ),
    (
        "close_notes.hbs",
        include_str!("../templates/close_notes.hbs"),
    ),
    (
        "description.hbs",
        include_str!("../templates/description.hbs"),
    ),
    (
        "short_description.hbs",
        include_str!("../templates/short_description.hbs"),
    ),
    ("work_note.hbs", include_str!("../templates/work_note.hbs")),
];

/// The example configuration, every key with its default.
pub const EXAMPLE_CONFIG: &str = include_str!("../config/snowsync.example.toml");

/// How messages name a built-in file: `(built-in) mappings/10-oort.toml`.
pub fn origin(folder: &str, name: &str) -> String {
    format!("(built-in) {folder}/{name}")
}

/// The built-in mapping files as `(origin, text)` pairs, as the loader takes them.
pub fn mapping_texts() -> Vec<(String, String)> {
    MAPPINGS
        .iter()
        .map(|(name, text)| (origin("mappings", name), (*text).to_owned()))
        .collect()
}

/// Writes `snowsync.toml` (the example configuration), `mappings/`, `mappings.d/` (empty, for
/// the admin's own rules) and `templates/` into `dir`, creating it. Refuses to overwrite a
/// file that exists, so an admin's edits are never lost; returns the paths written.
pub fn write_to(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let mut planned: Vec<(PathBuf, &str)> = vec![(dir.join("snowsync.toml"), EXAMPLE_CONFIG)];
    planned.extend(
        MAPPINGS
            .iter()
            .map(|(n, t)| (dir.join("mappings").join(n), *t)),
    );
    planned.extend(
        TEMPLATES
            .iter()
            .map(|(n, t)| (dir.join("templates").join(n), *t)),
    );
    let existing: Vec<String> = planned
        .iter()
        .filter(|(p, _)| p.exists())
        .map(|(p, _)| p.display().to_string())
        .collect();
    if !existing.is_empty() {
        return Err(format!(
            "not overwriting files that exist: {}",
            existing.join(", ")
        ));
    }
    for sub in ["mappings", "mappings.d", "templates"] {
        let path = dir.join(sub);
        std::fs::create_dir_all(&path)
            .map_err(|e| format!("cannot create {}: {e}", path.display()))?;
    }
    for (path, text) in &planned {
        std::fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    Ok(planned.into_iter().map(|(p, _)| p).collect())
}
