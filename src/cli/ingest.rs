//! `snowsync ingest FILE`: a JSON Lines file of findings, Oort events or approval
//! requests, each line committed on its own; bad lines are reported and skipped.

use std::io::BufRead;
use std::path::Path;

use indicatif::{ProgressBar, ProgressStyle};

use crate::ingest;
use crate::intake::{Intake, IntakeError};

/// What an ingest run did.
#[derive(Debug, Default)]
pub struct Report {
    pub lines: usize,
    pub findings: usize,
    pub new_findings: usize,
    /// `(line number, what is wrong)` for every line that was skipped.
    pub rejected: Vec<(usize, String)>,
}

/// Reads `path` line by line and records each finding through `intake`.
/// Blank lines are skipped silently. `progress` draws a bar on stderr.
pub async fn ingest_file(intake: &Intake, path: &Path, progress: bool) -> anyhow::Result<Report> {
    let file = std::fs::File::open(path)
        .map_err(|e| anyhow::anyhow!("cannot open {}: {e}", path.display()))?;
    let size = file.metadata().map(|m| m.len()).unwrap_or(0);
    let bar = if progress {
        ProgressBar::new(size)
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {bytes}/{total_bytes} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let mut report = Report::default();
    for (index, line) in std::io::BufReader::new(file).lines().enumerate() {
        let number = index + 1;
        let line =
            line.map_err(|e| anyhow::anyhow!("{}:{number}: cannot read: {e}", path.display()))?;
        bar.inc(line.len() as u64 + 1);
        if line.trim().is_empty() {
            continue;
        }
        report.lines += 1;
        let findings = match ingest::detect_and_parse(line.as_bytes()) {
            Ok(f) => f,
            Err(e) => {
                report.rejected.push((number, e.to_string()));
                continue;
            }
        };
        // One line is one event: its findings are recorded together or not at all.
        match intake.failing_all(&findings, "cli").await {
            Ok(recorded) => {
                report.findings += recorded.len();
                report.new_findings += recorded.iter().filter(|r| r.created).count();
            }
            // The store failing is not the line's fault: stop, keeping what was committed.
            Err(IntakeError::Db(e)) => {
                bar.finish_and_clear();
                anyhow::bail!(
                    "{}:{number}: database error after {} findings: {e}",
                    path.display(),
                    report.findings
                );
            }
            Err(e) => report.rejected.push((number, e.to_string())),
        }
        bar.set_message(format!(
            "{} findings, {} bad lines",
            report.findings,
            report.rejected.len()
        ));
    }
    bar.finish_and_clear();
    Ok(report)
}
