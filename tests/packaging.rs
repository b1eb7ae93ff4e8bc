//! The packaging an SRE deploys from: the systemd unit is accepted by `systemd-analyze verify`
//! (where systemd is installed) and keeps its hardening; the Dockerfile builds as documented.

use std::path::Path;
use std::process::Command;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn unit() -> String {
    std::fs::read_to_string(root().join("packaging/systemd/snowsync.service")).unwrap()
}

#[test]
fn the_systemd_unit_is_hardened_and_restarts_on_failure() {
    let unit = unit();
    for line in [
        "DynamicUser=yes",
        "StateDirectory=snowsync",
        "ProtectSystem=strict",
        "NoNewPrivileges=yes",
        "LoadCredential=servicenow_password:",
        "Restart=on-failure",
        "ExecReload=/bin/kill -HUP $MAINPID",
    ] {
        assert!(
            unit.lines().any(|l| l == line || l.starts_with(line)),
            "{line}"
        );
    }
}

#[test]
fn systemd_analyze_verify_accepts_the_unit() {
    if Command::new("systemd-analyze")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("systemd-analyze verify skipped: systemd-analyze is not installed here");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // verify checks that ExecStart's binary exists: point it at the one just built.
    let text = unit().replace("/usr/local/bin/snowsync", env!("CARGO_BIN_EXE_snowsync"));
    let path = dir.path().join("snowsync.service");
    std::fs::write(&path, text).unwrap();
    let output = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&path)
        .output()
        .unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "{said}");
    assert!(
        !said.contains("snowsync.service:"),
        "systemd-analyze has remarks on the unit:\n{said}"
    );
}

#[test]
fn the_dockerfile_builds_locked_in_release_and_runs_unprivileged_with_a_health_check() {
    let dockerfile = std::fs::read_to_string(root().join("Dockerfile")).unwrap();
    for part in [
        "AS build",
        "cargo build --release --locked",
        "USER snowsync",
        "HEALTHCHECK",
        "/healthz",
        "VOLUME [\"/etc/snowsync\", \"/var/lib/snowsync\"]",
    ] {
        assert!(dockerfile.contains(part), "{part}");
    }
    let ignore = std::fs::read_to_string(root().join(".dockerignore")).unwrap();
    assert!(ignore.lines().any(|l| l == "target"));
}
