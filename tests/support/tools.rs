//! Outside tools some tests drive (schemathesis, Chromium and its driver): where they are,
//! and what a test does without one. Without `CI` such a test prints why and passes
//! without checking anything; under `CI` (as `.ci/run` runs), a missing tool fails it.

use std::path::{Path, PathBuf};

/// The build's target directory (`CARGO_TARGET_DIR` or `target/`), from where this test
/// binary lives: `<target>/debug/deps/<test>`.
pub fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    exe.ancestors()
        .nth(3)
        .map(Path::to_path_buf)
        .expect("the test binary lives in <target>/<profile>/deps")
}

/// Whether this run is CI's, where every tool must be there.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0")
}

/// The first of `candidates` that is a file, else the first bare name found on `PATH`.
pub fn locate(candidates: &[PathBuf]) -> Option<PathBuf> {
    for candidate in candidates {
        if candidate.components().count() > 1 {
            if candidate.is_file() {
                return Some(candidate.clone());
            }
        } else if let Some(path) = std::env::var_os("PATH") {
            for dir in std::env::split_paths(&path) {
                let full = dir.join(candidate);
                if full.is_file() {
                    return Some(full);
                }
            }
        }
    }
    None
}

/// `found`, or, without it: under CI a failure naming the tool and how `.ci/run` installs
/// it; elsewhere a printed reason and `None`, so the test skips.
pub fn required(found: Option<PathBuf>, what: &str, install: &str) -> Option<PathBuf> {
    if found.is_some() {
        return found;
    }
    if in_ci() {
        panic!("{what} is required when CI is set, and was not found; {install}");
    }
    eprintln!("skipped: {what} not found and CI is not set; {install}");
    None
}
