//! Reloading mappings and templates while the service runs (SIGHUP): the files are read and
//! validated in full, exactly as at start, and put in force only when valid; a bad edit keeps
//! the running set and the log says why. What changed is logged, so an admin can tell the
//! edit took. Tickets already queued keep the payload rendered when they were recorded.

use std::collections::BTreeSet;

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::config::MappingConfig;
use crate::pipeline::{self, Live, Pipeline, PipelineError};

/// Loads the files of `config` again and, when they are valid, puts them in force in `live`;
/// returns what changed. On an error the running set stays in force.
pub fn reload(config: &MappingConfig, live: &Live) -> Result<String, PipelineError> {
    let loaded = pipeline::load(config)?;
    let change = changes(&live.current(), &loaded);
    for shadowed in loaded.mappings.shadowed() {
        tracing::warn!(problem = %shadowed, "mapping rule never reached");
    }
    live.replace(loaded);
    Ok(change)
}

/// Rules, profiles and templates added, removed or changed between `old` and `new`.
pub fn changes(old: &Pipeline, new: &Pipeline) -> String {
    let names = |p: &Pipeline| -> BTreeSet<String> {
        p.mappings.rules().iter().map(|r| r.name.clone()).collect()
    };
    let profiles = |p: &Pipeline| -> BTreeSet<String> {
        p.mappings.profiles().map(|p| p.name.clone()).collect()
    };
    let templates =
        |p: &Pipeline| -> BTreeSet<String> { p.templates.names().map(str::to_owned).collect() };
    let mut parts = Vec::new();
    diff(&mut parts, "rule", &names(old), &names(new));
    diff(&mut parts, "profile", &profiles(old), &profiles(new));
    diff(&mut parts, "template", &templates(old), &templates(new));
    let changed: Vec<String> = new
        .mappings
        .profiles()
        .filter(|p| {
            old.mappings
                .profile(&p.name)
                .is_some_and(|before| format!("{before:?}") != format!("{p:?}"))
        })
        .map(|p| p.name.clone())
        .collect();
    if !changed.is_empty() {
        parts.push(format!("profiles changed: {}", changed.join(", ")));
    }
    let order = |p: &Pipeline| -> Vec<String> {
        p.mappings.rules().iter().map(|r| r.name.clone()).collect()
    };
    if parts.is_empty() && order(old) != order(new) {
        parts.push("rules reordered".to_owned());
    }
    let summary = format!(
        "{} rule(s), {} profile(s), {} template(s) in force",
        new.mappings.rules().len(),
        new.mappings.profiles().count(),
        new.templates.names().count()
    );
    if parts.is_empty() {
        format!("no rule or profile changed; {summary}")
    } else {
        format!("{}; {summary}", parts.join("; "))
    }
}

fn diff(parts: &mut Vec<String>, what: &str, old: &BTreeSet<String>, new: &BTreeSet<String>) {
    let added: Vec<&str> = new.difference(old).map(String::as_str).collect();
    let removed: Vec<&str> = old.difference(new).map(String::as_str).collect();
    if !added.is_empty() {
        parts.push(format!("{what}s added: {}", added.join(", ")));
    }
    if !removed.is_empty() {
        parts.push(format!("{what}s removed: {}", removed.join(", ")));
    }
}

/// Reloads on every SIGHUP until `shutdown`, logging the outcome of each.
pub fn on_sighup(
    config: MappingConfig,
    live: Live,
    shutdown: CancellationToken,
) -> std::io::Result<JoinHandle<()>> {
    let mut hangups = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())?;
    Ok(tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => break,
                got = hangups.recv() => {
                    if got.is_none() {
                        break;
                    }
                    apply(&config, &live);
                }
            }
        }
    }))
}

fn apply(config: &MappingConfig, live: &Live) {
    match reload(config, live) {
        Ok(change) => {
            metrics::counter!("mapping_reloads_total", "result" => "applied").increment(1);
            tracing::info!(change = %change, "mappings and templates reloaded");
        }
        Err(e) => {
            metrics::counter!("mapping_reloads_total", "result" => "refused").increment(1);
            for line in e.to_string().lines() {
                tracing::error!(problem = %line, "reload refused; the running mappings and templates stay in force");
            }
        }
    }
}
