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
    /// Oort test events ("Test Connectivity"): read, and nothing recorded for them.
    pub test_events: usize,
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
    let mut reader = std::io::BufReader::new(file);
    let mut buffer = Vec::new();
    let mut number = 0;
    loop {
        buffer.clear();
        let read = reader
            .read_until(b'\n', &mut buffer)
            .map_err(|e| anyhow::anyhow!("{}:{}: cannot read: {e}", path.display(), number + 1))?;
        if read == 0 {
            break;
        }
        number += 1;
        bar.inc(read as u64);
        // Bytes, not `lines()`: one line that is not UTF-8 is that line's problem, and the
        // lines after it are still read.
        let line = buffer.strip_suffix(b"\n").unwrap_or(&buffer);
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        report.lines += 1;
        if let Err(e) = std::str::from_utf8(line) {
            report.rejected.push((
                number,
                format!("not valid UTF-8 (at byte {})", e.valid_up_to() + 1),
            ));
            continue;
        }
        if ingest::is_oort_test_event(line) {
            report.test_events += 1;
            continue;
        }
        let findings = match ingest::detect_and_parse(line) {
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
