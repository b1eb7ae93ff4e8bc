//! Reading `mappings/*.toml`: spelling and types first (serde), then meaning (this file),
//! every error naming the file, the line and the key. Reads files only at load; never writes.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::profile::Profile;
use super::raw::{self, File, Locator, RawRule, Seg};
use super::rule::{AttributeMatch, Pattern, Rule};
use super::{MappingError, Mappings, validate};
use crate::domain::{FindingKind, Severity};

/// Loads every `*.toml` of `dir`, in file-name order; rules keep that order. The first
/// problem only: [`load_all`] reports every one.
pub fn load(dir: &Path) -> Result<Mappings, MappingError> {
    from_texts(&read_folder(dir)?)
}

/// The admin's own rules (`local`, optional) before the shipped ones (`shipped`, or the
/// starter mappings built into the binary when `None`), with every problem of every file.
pub fn load_all(
    local: Option<&Path>,
    shipped: Option<&Path>,
) -> Result<Mappings, Vec<MappingError>> {
    let mut files = match local {
        Some(dir) => read_folder_allowing_empty(dir).map_err(|e| vec![e])?,
        None => Vec::new(),
    };
    match shipped {
        Some(dir) => files.extend(read_folder(dir).map_err(|e| vec![e])?),
        None => files.extend(crate::starter::mapping_texts()),
    }
    from_texts_all(&files)
}

/// The `(origin, text)` of every `*.toml` of `dir`, in file-name order; at least one.
pub fn read_folder(dir: &Path) -> Result<Vec<(String, String)>, MappingError> {
    let files = read_folder_allowing_empty(dir)?;
    if files.is_empty() {
        return Err(MappingError::new(
            crate::config::paths::absolute(Path::new("."), dir)
                .display()
                .to_string(),
            "(directory)",
            "no *.toml mapping files found in this folder",
        ));
    }
    Ok(files)
}

fn read_folder_allowing_empty(dir: &Path) -> Result<Vec<(String, String)>, MappingError> {
    let shown = crate::config::paths::absolute(Path::new("."), dir)
        .display()
        .to_string();
    let entries = std::fs::read_dir(dir).map_err(|e| {
        MappingError::new(
            &shown,
            "(directory)",
            format!("cannot read the mappings directory: {e}"),
        )
    })?;
    let mut paths: Vec<PathBuf> = Vec::new();
    for entry in entries {
        let path = entry
            .map_err(|e| MappingError::new(&shown, "(directory)", format!("cannot list: {e}")))?
            .path();
        if path.extension().is_some_and(|x| x == "toml") && path.is_file() {
            paths.push(path);
        }
    }
    paths.sort();
    let mut files = Vec::new();
    for path in &paths {
        let origin = path.display().to_string();
        let text = std::fs::read_to_string(path)
            .map_err(|e| MappingError::new(&origin, "(file)", format!("cannot read: {e}")))?;
        files.push((origin, text));
    }
    Ok(files)
}

/// Builds mappings from `(file name, contents)` pairs, in order; the first problem only.
pub fn from_texts(files: &[(String, String)]) -> Result<Mappings, MappingError> {
    // Invariant: `from_texts_all` never returns an empty list of errors.
    from_texts_all(files).map_err(|errors| errors.into_iter().next().expect("at least one error"))
}

/// Builds mappings from `(file name, contents)` pairs, in order, reporting every problem of
/// every file: a file that does not parse is one error, and the files after it are still read.
pub fn from_texts_all(files: &[(String, String)]) -> Result<Mappings, Vec<MappingError>> {
    let mut errors: Vec<MappingError> = Vec::new();
    let mut rules: Vec<Rule> = Vec::new();
    let mut default: Option<Rule> = None;
    let mut profiles: BTreeMap<String, Profile> = BTreeMap::new();
    // Profiles that exist but did not validate: rules naming them are not reported again.
    let mut refused: Vec<String> = Vec::new();
    let mut unparsed = false;
    for (origin, text) in files {
        let file = match parse_file(origin, text) {
            Ok(file) => file,
            Err(e) => {
                errors.push(e);
                unparsed = true;
                continue;
            }
        };
        let at = Locator::new(text);
        let loc = |path: &[Seg<'_>]| match at.line(path) {
            Some(line) => format!("{origin}:{line}"),
            None => origin.clone(),
        };
        for (index, raw_rule) in file.rule.into_iter().enumerate() {
            let rule = match rule(raw_rule, index, &loc) {
                Ok(rule) => rule,
                Err(e) => {
                    errors.push(e);
                    continue;
                }
            };
            if let Some(other) = rules.iter().find(|r| r.name == rule.name) {
                errors.push(MappingError::new(
                    loc(&[Seg::Key("rule"), Seg::Index(index), Seg::Key("name")]),
                    format!("rule[{index}].name"),
                    format!(
                        "rule `{}` is already defined at {}",
                        rule.name, other.origin
                    ),
                ));
                continue;
            }
            rules.push(rule);
        }
        if let Some(raw_default) = file.default {
            let here = loc(&[Seg::Key("default")]);
            if let Some(other) = &default {
                errors.push(MappingError::new(
                    here,
                    "default",
                    format!("a default rule is already defined at {}", other.origin),
                ));
            } else {
                default = Some(Rule {
                    name: "default".to_owned(),
                    origin: here,
                    source: Vec::new(),
                    kind: None,
                    check_id: Vec::new(),
                    title: Vec::new(),
                    severity: Vec::new(),
                    min_severity: None,
                    attributes: Vec::new(),
                    profile: raw_default.profile,
                });
            }
        }
        for (name, raw_profile) in file.profile {
            let lines = profile_lines(&at, &name);
            if let Some(other) = profiles.get(&name) {
                errors.push(MappingError::new(
                    loc(&[Seg::Key("profile"), Seg::Key(&name)]),
                    format!("profile.{name}"),
                    format!("profile `{name}` is already defined in {}", other.file),
                ));
                continue;
            }
            match validate::profile(origin, &name, raw_profile, lines) {
                Ok(profile) => {
                    profiles.insert(name, profile);
                }
                Err(problems) => {
                    errors.extend(problems);
                    refused.push(name);
                }
            }
        }
    }
    // A file that did not parse may hold the default rule: its error says enough.
    if default.is_none() && !unparsed {
        let first = files.first().map_or("mappings", |(o, _)| o.as_str());
        errors.push(MappingError::new(
            first,
            "default",
            "a default rule is required: add `[default]` with `profile = \"...\"` to one mapping file",
        ));
    }
    for rule in rules.iter().chain(default.iter()) {
        if !unparsed && !profiles.contains_key(&rule.profile) && !refused.contains(&rule.profile) {
            let known: Vec<&str> = profiles.keys().map(String::as_str).collect();
            errors.push(MappingError::new(
                &rule.origin,
                if rule.name == "default" {
                    "default.profile".to_owned()
                } else {
                    format!("rule `{}`.profile", rule.name)
                },
                format!(
                    "no profile named `{}` (defined: {})",
                    rule.profile,
                    if known.is_empty() {
                        "none".to_owned()
                    } else {
                        known.join(", ")
                    }
                ),
            ));
        }
    }
    match default {
        Some(default) if errors.is_empty() => Ok(Mappings {
            rules,
            default,
            profiles,
            files: files.iter().map(|(o, _)| o.clone()).collect(),
        }),
        _ => Err(errors),
    }
}

/// Syntax, spelling and types, with the line from the parser.
fn parse_file(origin: &str, text: &str) -> Result<File, MappingError> {
    let de = toml::Deserializer::parse(text).map_err(|e| {
        MappingError::new(at_line(origin, text, &e), "(syntax)", e.message().trim())
    })?;
    serde_path_to_error::deserialize::<_, File>(de).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner();
        let message = inner.message().trim().to_owned();
        let (key, message) = describe(&path, &message);
        MappingError::new(at_line(origin, text, &inner), key, message)
    })
}

fn at_line(origin: &str, text: &str, err: &toml::de::Error) -> String {
    match err.span() {
        Some(span) => format!("{origin}:{}", raw::line_at(text, span.start)),
        None => origin.to_owned(),
    }
}

/// Names the unknown key in the path (serde puts it in the message only), and explains
/// the one key that is refused on purpose.
fn describe(path: &str, message: &str) -> (String, String) {
    let unknown = message
        .strip_prefix("unknown field `")
        .and_then(|rest| rest.split('`').next());
    let missing = message
        .strip_prefix("missing field `")
        .and_then(|rest| rest.split('`').next());
    if let Some(name) = missing {
        let key = if path == "." {
            name.to_owned()
        } else {
            format!("{path}.{name}")
        };
        return (key, format!("is required ({message})"));
    }
    match unknown {
        Some(name) => {
            let key = if path.ends_with(name) || path == "." {
                if path == "." {
                    name.to_owned()
                } else {
                    path.to_owned()
                }
            } else {
                format!("{path}.{name}")
            };
            (key, format!("unknown key ({message})"))
        }
        None => (path.to_owned(), message.to_owned()),
    }
}

fn rule(
    raw: RawRule,
    index: usize,
    loc: &dyn Fn(&[Seg<'_>]) -> String,
) -> Result<Rule, MappingError> {
    let key_loc = |key: &str| {
        let mut path = vec![Seg::Key("rule"), Seg::Index(index)];
        path.extend(key.split('.').map(Seg::Key));
        (loc(&path), format!("rule[{index}].{key}"))
    };
    let fail = |key: &str, message: String| {
        let (origin, key) = key_loc(key);
        MappingError::new(origin, key, message)
    };
    if raw.name.trim().is_empty() || raw.name == "default" {
        return Err(fail(
            "name",
            "a rule needs a name other than `default` (the `[default]` rule has that one)"
                .to_owned(),
        ));
    }
    let patterns = |key: &str, items: Vec<String>| {
        items
            .iter()
            .map(|p| Pattern::new(p).map_err(|m| fail(key, m)))
            .collect::<Result<Vec<_>, _>>()
    };
    let severity = |key: &str, text: &str| {
        Severity::parse(text).ok_or_else(|| {
            fail(
                key,
                format!("unknown severity `{text}` (expected info, low, medium, high or critical)"),
            )
        })
    };
    let kind = match raw.kind.as_deref() {
        None => None,
        Some(text) => Some(FindingKind::parse(text).ok_or_else(|| {
            fail(
                "kind",
                format!("unknown kind `{text}` (expected check or approval)"),
            )
        })?),
    };
    let mut attributes = Vec::new();
    for (name, value) in raw.attributes {
        let matcher = match value {
            toml::Value::String(text) => AttributeMatch::Pattern(
                Pattern::new(&text).map_err(|m| fail(&format!("attributes.{name}"), m))?,
            ),
            other => {
                let json = serde_json::to_value(&other).map_err(|e| {
                    fail(
                        &format!("attributes.{name}"),
                        format!("unusable value: {e}"),
                    )
                })?;
                AttributeMatch::Equals(json)
            }
        };
        attributes.push((name, matcher));
    }
    let (origin, _) = key_loc("name");
    Ok(Rule {
        origin,
        source: patterns("source", raw.source.0)?,
        kind,
        check_id: patterns("check_id", raw.check_id.0)?,
        title: patterns("title", raw.title.0)?,
        severity: raw
            .severity
            .0
            .iter()
            .map(|s| severity("severity", s))
            .collect::<Result<_, _>>()?,
        min_severity: raw
            .min_severity
            .as_deref()
            .map(|s| severity("min_severity", s))
            .transpose()?,
        attributes,
        profile: raw.profile,
        name: raw.name,
    })
}

/// The line of every key of `[profile.NAME]` and its sub-tables, by dotted key
/// (`""` for the table itself).
fn profile_lines(at: &Locator<'_>, name: &str) -> BTreeMap<String, usize> {
    let base = [Seg::Key("profile"), Seg::Key(name)];
    let mut lines: BTreeMap<String, usize> = at.keys_under(&base).into_iter().collect();
    if let Some(line) = at.line(&base) {
        lines.insert(String::new(), line);
    }
    lines
}
