//! `alleato ab`: the same workload on two stacks, measured side by side.
//!
//! Each side is a server this command starts from an env file (the variables the server reads;
//! it gets a free port, a data directory of its own unless the file names one, metrics on, and
//! no rate limit or daily quota unless the file sets them) or one already running at a URL.
//! First a scripted sequence (`replay.rs`) runs on both and their results are compared; then
//! the workload runs in rounds, A then B, so drift of the machine falls on both alike. It
//! creates its own users and data and deletes nothing it did not create.
//!
//! Writes `report.md`, `report.json` ([`report::Report`]) and `latency.svg`, `throughput.svg`;
//! the log of each server it started goes beside them (`server-a.log`, `server-b.log`).

mod charts;
mod driver;
mod replay;
mod report;
mod scrape;
mod side;
mod stats;
mod workload;

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;

use self::report::{Correctness, Machine, OperationReport, PerSide, SideInfo};
pub use self::report::{Report, SCHEMA};
use self::side::Side;
use self::stats::PhaseStats;
pub use self::workload::{Operation, Workload};

/// The command line of `alleato ab`.
#[derive(Debug, clap::Args)]
pub struct AbArgs {
    /// Side A: an env file, read as the server reads its environment (a server is started).
    #[arg(long, value_name = "ENV_FILE", required_unless_present = "a_url", conflicts_with = "a_url")]
    pub a: Option<PathBuf>,
    /// Side B: an env file.
    #[arg(long, value_name = "ENV_FILE", required_unless_present = "b_url", conflicts_with = "b_url")]
    pub b: Option<PathBuf>,
    /// Side A: a running server's base URL instead (e.g. http://127.0.0.1:8787).
    #[arg(long, value_name = "URL")]
    pub a_url: Option<String>,
    /// Side B: a running server's base URL.
    #[arg(long, value_name = "URL")]
    pub b_url: Option<String>,
    /// The `/metrics` URL of side A when given as a URL (per-port time in the report).
    #[arg(long, value_name = "URL")]
    pub a_metrics_url: Option<String>,
    /// The `/metrics` URL of side B when given as a URL.
    #[arg(long, value_name = "URL")]
    pub b_metrics_url: Option<String>,
    /// Measured time per round and side: 10s, 1.5s, 500ms, 2m.
    #[arg(long)]
    pub duration: Option<String>,
    /// Rounds (each runs A, then B).
    #[arg(long)]
    pub rounds: Option<u32>,
    /// Workers making requests at once.
    #[arg(long)]
    pub concurrency: Option<u32>,
    /// A TOML workload file (mix, concurrency, duration, warm-up, rounds); see config/ab/.
    #[arg(long, value_name = "FILE")]
    pub workload: Option<PathBuf>,
    /// Where to write report.md, report.json, the SVG charts and the logs of the servers started.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
}

/// Runs the comparison; an error when a side could not start or the report not be written.
pub async fn run(args: AbArgs) -> anyhow::Result<Report> {
    let mut workload = Workload::load(args.workload.as_deref())?;
    if let Some(duration) = &args.duration {
        workload.duration_secs = workload::parse_duration(duration)?;
    }
    if let Some(rounds) = args.rounds {
        workload.rounds = rounds;
    }
    if let Some(concurrency) = args.concurrency {
        workload.concurrency = concurrency;
    }
    workload.check()?;
    std::fs::create_dir_all(&args.out).with_context(|| format!("creating {}", args.out.display()))?;

    let http = driver::http_client(workload.concurrency as usize);
    let a = open_side(&http, "A", args.a.as_ref(), args.a_url.as_deref(), args.a_metrics_url, &args.out).await?;
    let b = open_side(&http, "B", args.b.as_ref(), args.b_url.as_deref(), args.b_metrics_url, &args.out).await?;
    eprintln!("A: {} ({})\nB: {} ({})", a.source, a.backend("database"), b.source, b.backend("database"));

    eprintln!("replaying the scripted sequence on both sides");
    let (seen_a, seen_b) = (replay::replay(&http, &a.url).await, replay::replay(&http, &b.url).await);
    let differences = replay::compare(&seen_a, &seen_b);
    let correctness = Correctness { steps: seen_a.len().max(seen_b.len()), same: differences.is_empty(), differences };

    let mut phases: PerSide<Vec<Measured>> = PerSide { a: Vec::new(), b: Vec::new() };
    for round in 0..workload.rounds {
        for side in [&a, &b] {
            let progress = progress_bar(&workload, &format!("round {}/{} · {}", round + 1, workload.rounds, side.name));
            let before = match &side.metrics_url {
                Some(url) => scrape::totals(&http, url).await,
                None => None,
            };
            let seed = u64::from(round) * 1_000_003;
            let stats = driver::phase(&http, &side.url, &workload, seed, &progress).await;
            let after = match &side.metrics_url {
                Some(url) => scrape::totals(&http, url).await,
                None => None,
            };
            progress.finish_and_clear();
            let target = if side.name == "A" { &mut phases.a } else { &mut phases.b };
            target.push((stats, before.zip(after)));
        }
    }

    let report = build(&workload, &a, &b, &phases, correctness);
    std::fs::write(args.out.join("report.json"), serde_json::to_vec_pretty(&report)?)?;
    std::fs::write(args.out.join("report.md"), report.markdown())?;
    charts::latency(&report, &args.out.join("latency.svg"))?;
    charts::throughput(&report, &args.out.join("throughput.svg"))?;
    for op in &report.operations {
        println!("{}: {}", op.name, op.verdict);
    }
    println!(
        "correctness: {}",
        if report.correctness.same {
            "same results".to_owned()
        } else {
            format!("{} step(s) differ", report.correctness.differences.len())
        }
    );
    println!("report: {}", args.out.join("report.md").display());
    Ok(report)
}

async fn open_side(
    http: &reqwest::Client,
    name: &'static str,
    env_file: Option<&PathBuf>,
    url: Option<&str>,
    metrics_url: Option<String>,
    out: &std::path::Path,
) -> anyhow::Result<Side> {
    match (env_file, url) {
        (Some(file), _) => Side::start(http, name, file, out).await,
        (None, Some(url)) => Side::running(http, name, url, metrics_url).await,
        (None, None) => anyhow::bail!("side {name} needs --{} or --{}-url", name.to_lowercase(), name.to_lowercase()),
    }
}

fn progress_bar(workload: &Workload, label: &str) -> indicatif::ProgressBar {
    let total = (workload.warmup() + workload.duration()).as_millis() as u64;
    let bar = indicatif::ProgressBar::new(total);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{msg:>14} [{bar:30}] {elapsed}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar.set_message(label.to_owned());
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

/// A measured phase, and the side's `/metrics` totals before and after it.
type Measured = (PhaseStats, Option<(scrape::Totals, scrape::Totals)>);
type Phases = [Measured];

fn build(workload: &Workload, a: &Side, b: &Side, phases: &PerSide<Vec<Measured>>, correctness: Correctness) -> Report {
    let operations = report::operations(workload)
        .into_iter()
        .map(|op| {
            let rounds = |side: &Phases| side.iter().filter_map(|(stats, _)| stats.summary(op)).collect::<Vec<_>>();
            let (ra, rb) = (rounds(&phases.a), rounds(&phases.b));
            let ratios = report::ratios(&ra, &rb);
            let verdict = report::verdict(ratios.as_ref(), &ra, &rb);
            OperationReport {
                name: op.name().into(),
                port_time_ms: PerSide { a: port_time(&phases.a, op), b: port_time(&phases.b, op) },
                rounds: PerSide { a: ra, b: rb },
                ratio_b_over_a: ratios,
                verdict,
            }
        })
        .collect();
    let timeline = |side: &Phases| side.iter().map(|(stats, _)| stats.per_second.clone()).collect();
    let info = |side: &Side, phases: &Phases| SideInfo {
        source: side.source.clone(),
        adapters: side.adapters.clone(),
        metrics: phases.iter().any(|(_, totals)| totals.is_some()),
    };
    Report {
        schema: SCHEMA.into(),
        generated_at: alleato_core::time::now().to_rfc3339(),
        machine: Machine {
            cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
            os: format!("{} {}", std::env::consts::OS, std::env::consts::ARCH),
        },
        workload: workload.clone(),
        a: info(a, &phases.a),
        b: info(b, &phases.b),
        operations,
        throughput_over_time: PerSide { a: timeline(&phases.a), b: timeline(&phases.b) },
        correctness,
    }
}

/// Per-port milliseconds per request, averaged over the rounds that read `/metrics`.
fn port_time(phases: &Phases, op: Operation) -> std::collections::BTreeMap<String, f64> {
    let (method, route) = op.route();
    let readings: Vec<_> = phases
        .iter()
        .filter_map(|(_, totals)| totals.as_ref())
        .map(|(before, after)| scrape::per_request(before, after, method, route, op == Operation::Send))
        .collect();
    let mut mean = std::collections::BTreeMap::new();
    for reading in &readings {
        for (port, ms) in reading {
            *mean.entry(port.clone()).or_insert(0.0) += ms / readings.len() as f64;
        }
    }
    mean
}
