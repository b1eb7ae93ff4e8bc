//! Relative paths in a configuration file mean "next to this file": a systemd unit or a
//! container can point `--config` anywhere and keep `mappings/`, `templates/`, secret files
//! and the SQLite file beside it. Without a file they are relative to the current folder.
//! Every path comes out absolute, so messages name exactly where snowsync looked.

use std::path::{Path, PathBuf};

use super::raw::File;

/// The folder relative paths resolve against: the config file's, else the current one.
pub(super) fn base_of(config_file: Option<&Path>) -> PathBuf {
    let folder = config_file
        .and_then(Path::parent)
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    absolute(Path::new("."), folder)
}

/// `path` made absolute against `base` (lexically: nothing needs to exist yet).
pub fn absolute(base: &Path, path: &Path) -> PathBuf {
    let joined = if path.is_absolute() {
        path.to_owned()
    } else {
        base.join(path)
    };
    std::path::absolute(&joined).unwrap_or(joined)
}

/// Resolves every path the file names, before validation reads any of them.
pub(super) fn resolve(file: &mut File, base: &Path) {
    let fix = |p: &mut Option<PathBuf>| {
        if let Some(path) = p.as_mut() {
            *path = absolute(base, path);
        }
    };
    fix(&mut file.servicenow.client_secret_file);
    fix(&mut file.servicenow.password_file);
    fix(&mut file.servicenow.jwt_key_file);
    fix(&mut file.servicenow.token_encryption_key_file);
    fix(&mut file.servicenow.ca_file);
    fix(&mut file.http.api_keys_file);
    fix(&mut file.poller.push_secret_file);
    fix(&mut file.mapping.rules_dir);
    fix(&mut file.mapping.local_rules_dir);
    fix(&mut file.mapping.templates_dir);
    for source in file.sources.values_mut() {
        fix(&mut source.hmac_secret_file);
    }
}

/// A SQLite URL with its file path made absolute against `base`; other URLs unchanged.
pub(super) fn database_url(base: &Path, url: &str) -> String {
    let Some(rest) = url.strip_prefix("sqlite:") else {
        return url.to_owned();
    };
    let rest = rest.strip_prefix("//").unwrap_or(rest);
    let (path, query) = match rest.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (rest, None),
    };
    if path.is_empty() || path == ":memory:" || Path::new(path).is_absolute() {
        return url.to_owned();
    }
    let path = absolute(base, Path::new(path));
    match query {
        Some(q) => format!("sqlite://{}?{q}", path.display()),
        None => format!("sqlite://{}", path.display()),
    }
}

/// A folder given in the file (it must exist), else `default_name` beside the file when
/// that is a folder, else `None`: the built-in starter files.
pub(super) fn folder_or_starter(
    configured: Option<PathBuf>,
    base: &Path,
    default_name: &str,
) -> Option<PathBuf> {
    configured.or_else(|| Some(base.join(default_name)).filter(|p| p.is_dir()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_relative_sqlite_path_is_taken_from_the_config_folder() {
        let base = Path::new("/etc/snowsync");
        assert_eq!(
            database_url(base, "sqlite://data/s.db?mode=rwc"),
            "sqlite:///etc/snowsync/data/s.db?mode=rwc"
        );
        assert_eq!(
            database_url(base, "sqlite:///var/lib/s.db"),
            "sqlite:///var/lib/s.db"
        );
        assert_eq!(database_url(base, "sqlite::memory:"), "sqlite::memory:");
        assert_eq!(database_url(base, "postgres://u@h/db"), "postgres://u@h/db");
    }
}
