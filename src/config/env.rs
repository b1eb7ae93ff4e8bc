//! `SNOWSYNC_<SECTION>__<KEY>` environment overrides, applied on the parsed TOML table.

use serde::de::DeserializeOwned;

use super::ConfigError;

const PREFIX: &str = "SNOWSYNC_";

/// One variable that was applied: its name and the dotted key it set.
pub(super) struct Override {
    pub var: String,
    pub key: Vec<String>,
    pub raw: String,
}

/// Sets every `SNOWSYNC_A__B[__C]` variable at `a.b[.c]` in `table`.
///
/// Values that read as TOML scalars or arrays (`8`, `true`, `["a"]`) are taken as such;
/// anything else is a string. [`deserialize`] turns a mistyped guess back into a string.
pub(super) fn apply(
    table: &mut toml::Table,
    vars: impl IntoIterator<Item = (String, String)>,
) -> Result<Vec<Override>, ConfigError> {
    let mut applied = Vec::new();
    let mut vars: Vec<_> = vars
        .into_iter()
        .filter(|(k, _)| k.starts_with(PREFIX))
        .collect();
    vars.sort();
    for (var, raw) in vars {
        let key: Vec<String> = var[PREFIX.len()..]
            .split("__")
            .map(|part| part.to_ascii_lowercase())
            .collect();
        // Variables without a section separator (SNOWSYNC_LOG, SNOWSYNC_TEST_…) are not ours.
        if key.len() < 2 || key.iter().any(String::is_empty) {
            continue;
        }
        set(table, &key, guess(&raw))
            .map_err(|message| ConfigError::new(&var, key.join("."), message))?;
        applied.push(Override { var, key, raw });
    }
    Ok(applied)
}

/// Deserializes `table`; when an overridden key has the wrong type, retries it as a string.
pub(super) fn deserialize<T: DeserializeOwned>(
    mut table: toml::Table,
    overrides: &[Override],
) -> Result<T, ConfigError> {
    let mut as_string: Vec<usize> = Vec::new();
    loop {
        let value = toml::Value::Table(table.clone());
        match serde_path_to_error::deserialize::<_, T>(value) {
            Ok(v) => return Ok(v),
            Err(err) => {
                let path = err.path().to_string();
                let position = overrides.iter().position(|o| o.key.join(".") == path);
                match position {
                    Some(i) if !as_string.contains(&i) => {
                        as_string.push(i);
                        let o = &overrides[i];
                        set(&mut table, &o.key, toml::Value::String(o.raw.clone()))
                            .map_err(|m| ConfigError::new(&o.var, &path, m))?;
                    }
                    Some(i) => {
                        return Err(ConfigError::new(
                            &overrides[i].var,
                            path,
                            err.inner().message(),
                        ));
                    }
                    None => {
                        let (key, message) = super::raw::describe(&path, err.inner().message());
                        let origin = overrides
                            .iter()
                            .find(|o| key.starts_with(&o.key.join(".")))
                            .map(|o| o.var.clone())
                            .unwrap_or_else(|| "environment".to_owned());
                        return Err(ConfigError::new(origin, key, message));
                    }
                }
            }
        }
    }
}

fn guess(raw: &str) -> toml::Value {
    let probe = format!("v = {raw}");
    match toml::from_str::<toml::Table>(&probe)
        .ok()
        .and_then(|mut t| t.remove("v"))
    {
        Some(
            v @ (toml::Value::Integer(_)
            | toml::Value::Float(_)
            | toml::Value::Boolean(_)
            | toml::Value::Array(_)),
        ) => v,
        _ => toml::Value::String(raw.to_owned()),
    }
}

fn set(table: &mut toml::Table, key: &[String], value: toml::Value) -> Result<(), String> {
    let (last, parents) = key.split_last().ok_or("empty key")?;
    let mut current = table;
    for part in parents {
        let entry = current
            .entry(part.clone())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        current = entry
            .as_table_mut()
            .ok_or_else(|| format!("`{part}` is not a section"))?;
    }
    current.insert(last.clone(), value);
    Ok(())
}
