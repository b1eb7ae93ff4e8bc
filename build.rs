//! Build information: the git commit the binary is built from, for `snowsync --version`.
//! `SNOWSYNC_GIT_COMMIT` set in the environment wins (a container build has no `.git`);
//! without git or a repository the commit is `unknown`, and the build goes on.

use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=SNOWSYNC_GIT_COMMIT");
    println!("cargo:rerun-if-changed=build.rs");
    // Run again when HEAD moves or the index changes; a worktree keeps these apart from
    // `.git`, so ask git where they are.
    for path in ["HEAD", "index", "refs/heads", "packed-refs"] {
        if let Some(file) = git(&["rev-parse", "--git-path", path])
            && std::path::Path::new(&file).exists()
        {
            println!("cargo:rerun-if-changed={file}");
        }
    }
    let commit = std::env::var("SNOWSYNC_GIT_COMMIT")
        .ok()
        .filter(|c| !c.trim().is_empty())
        .or_else(git_commit)
        .unwrap_or_else(|| "unknown".to_owned());
    println!("cargo:rustc-env=SNOWSYNC_GIT_COMMIT={commit}");
}

/// The short commit, with `-dirty` when tracked files differ from it.
fn git_commit() -> Option<String> {
    let commit = git(&["rev-parse", "--short=12", "HEAD"]).filter(|c| !c.is_empty())?;
    let dirty =
        git(&["status", "--porcelain", "--untracked-files=no"]).is_some_and(|s| !s.is_empty());
    Some(if dirty {
        format!("{commit}-dirty")
    } else {
        commit
    })
}

/// What `git ARGS` prints, trimmed; `None` without git, outside a repository, or on failure.
fn git(args: &[&str]) -> Option<String> {
    Command::new("git")
        .args(args)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
}
