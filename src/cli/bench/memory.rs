//! The service's own memory: `snowsync serve` in a process of its own, on a temporary SQLite
//! file, against the emulator in this process, fed N findings over HTTP until every ticket
//! exists; its peak resident set (`VmHWM`) then counts the service alone, not the emulator
//! and its records, nor the senders.

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::json;

use super::BenchArgs;
use super::harness;
use super::report::{Report, num};
use crate::sim::{self, SimConfig, SimHandle};

pub async fn run(args: &BenchArgs) -> anyhow::Result<Report> {
    let mut report = Report::new(
        "service memory",
        &[
            "findings",
            "seconds",
            "end to end findings/s",
            "service peak RSS MiB",
            "RSS at the end MiB",
            "of it anonymous MiB",
            "of it mapped files MiB",
            "duplicates",
        ],
    );
    report.parameter("senders", args.senders);
    report.parameter("workers", args.workers);
    report.notes.push(
        "`snowsync serve` runs as a process of its own (SQLite, the starter mappings); its \
         VmHWM, VmRSS, RssAnon and RssFile are read from /proc when the last ticket exists; \
         mapped files are mostly the SQLite database, memory-mapped up to 256 MiB, whose \
         pages the kernel can drop and read again"
            .to_owned(),
    );
    for &total in &args.memory_findings {
        let sim = sim::spawn(SimConfig::default())
            .await
            .context("starting the ServiceNow emulator")?;
        let result = measure(&sim, args, total).await;
        let stats = sim.stats().await;
        sim.shutdown().await;
        let measured = result?;
        report.row(vec![
            json!(total),
            num(measured.seconds),
            num(total as f64 / measured.seconds),
            num(measured.peak_mib),
            num(measured.end_mib),
            num(measured.anon_mib),
            num(measured.file_mib),
            json!(stats.duplicate_records("incident")),
        ]);
    }
    Ok(report)
}

struct Measured {
    seconds: f64,
    peak_mib: f64,
    end_mib: f64,
    anon_mib: f64,
    file_mib: f64,
}

/// A `serve` process, killed when dropped.
struct Serve {
    child: Child,
    dir: std::path::PathBuf,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

async fn measure(sim: &SimHandle, args: &BenchArgs, total: usize) -> anyhow::Result<Measured> {
    let id = uuid::Uuid::new_v4().simple().to_string();
    let dir = std::env::temp_dir().join(format!("snowsync-bench-memory-{id}"));
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let api_key = format!("bench-{id}");
    let (user, password) = sim.integration_credentials();
    let config = format!(
        "[servicenow]\ninstance_url = \"{}\"\nusername = \"{user}\"\npassword = \"{password}\"\n\
         max_concurrency = {}\nrequests_per_second = 100000.0\n\
         [database]\nurl = \"sqlite://state.db?mode=rwc\"\n\
         [http]\nlisten = \"127.0.0.1:{port}\"\napi_keys = [\"{api_key}\"]\n\
         [outbox]\nworkers = {}\nbatch_size = {}\n[poller]\nenabled = false\n\
         [log]\nlevel = \"warn\"\n",
        sim.base_url(),
        args.workers * 2,
        args.workers,
        args.batch_size,
    );
    std::fs::write(dir.join("snowsync.toml"), config).context("writing the config")?;
    let child = Command::new(std::env::current_exe().context("finding this program")?)
        .args(["--config", "snowsync.toml", "serve"])
        .current_dir(&dir)
        .env_remove("RUST_LOG")
        .env_remove("SNOWSYNC_CONFIG")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("starting snowsync serve")?;
    let serve = Serve { child, dir };
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    wait_ready(&http, &base).await?;

    let started = Instant::now();
    send(&http, &base, &api_key, total, args.senders).await?;
    let deadline = Instant::now() + Duration::from_secs(3_600);
    while sim.stats().await.records("incident") < total as u64 {
        if Instant::now() > deadline {
            bail!("the service made fewer than {total} tickets within an hour");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let seconds = harness::seconds(started);
    let status = std::fs::read_to_string(format!("/proc/{}/status", serve.child.id()))
        .context("reading the service's /proc status")?;
    Ok(Measured {
        seconds,
        peak_mib: status_mib(&status, "VmHWM:"),
        end_mib: status_mib(&status, "VmRSS:"),
        anon_mib: status_mib(&status, "RssAnon:"),
        file_mib: status_mib(&status, "RssFile:"),
    })
}

/// A `/proc/PID/status` line's kB value in MiB.
fn status_mib(status: &str, key: &str) -> f64 {
    status
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kib| kib / 1024.0)
}

async fn wait_ready(http: &reqwest::Client, base: &str) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(r) = http.get(format!("{base}/readyz")).send().await
            && r.status().is_success()
        {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("snowsync serve was not ready within a minute");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Sends findings `0..total` from `senders` closed-loop senders.
async fn send(
    http: &reqwest::Client,
    base: &str,
    api_key: &str,
    total: usize,
    senders: usize,
) -> anyhow::Result<()> {
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..senders.max(1) {
        let next = next.clone();
        let request = http
            .post(format!("{base}/v1/findings"))
            .header("x-api-client-token", api_key)
            .header("content-type", "application/json");
        tasks.spawn(async move {
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= total {
                    return Ok::<_, anyhow::Error>(());
                }
                let Some(builder) = request.try_clone() else {
                    bail!("request not clonable");
                };
                let status = builder.body(harness::finding(n)).send().await?.status();
                if status != reqwest::StatusCode::ACCEPTED {
                    bail!("finding {n}: {status}");
                }
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        done??;
    }
    Ok(())
}
