//! The report: `report.json` (the schema is [`Report`], version [`SCHEMA`]; fields are added,
//! never renamed or removed, within a version), `report.md` for people, and the charts.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use alleato_api::AdapterInfo;
use serde::{Deserialize, Serialize};

use super::replay::Difference;
use super::stats::Summary;
use super::workload::{Operation, Workload};

/// The version of `report.json`'s schema, written to [`Report::schema`].
pub const SCHEMA: &str = "alleato-ab/1";

/// Everything one `alleato ab` run found: `report.json`, from which `report.md` is written.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Report {
    /// `alleato-ab/1`.
    pub schema: String,
    /// When the run ended (RFC 3339).
    pub generated_at: String,
    /// Where it ran: logical CPUs and the OS, for reading the figures.
    pub machine: Machine,
    /// The workload as it ran (after the command line's overrides).
    pub workload: Workload,
    /// Side A: where it came from and what served it.
    pub a: SideInfo,
    /// Side B: where it came from and what served it.
    pub b: SideInfo,
    /// Every operation of the mix, in the workload's order.
    pub operations: Vec<OperationReport>,
    /// Requests completed per second, per round (`[round][second]`).
    pub throughput_over_time: PerSide<Vec<Vec<u64>>>,
    /// Whether the scripted sequence gave the same results on both sides, and where not.
    pub correctness: Correctness,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Machine {
    pub cpus: usize,
    pub os: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SideInfo {
    /// The env file or URL given.
    pub source: String,
    /// The adapter serving each port (`GET /health`).
    pub adapters: Vec<AdapterInfo>,
    /// Whether `/metrics` was read (per-port time is reported only then).
    pub metrics: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PerSide<T> {
    pub a: T,
    pub b: T,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OperationReport {
    pub name: String,
    /// One summary per round; empty when the side never ran the operation.
    pub rounds: PerSide<Vec<Summary>>,
    /// Milliseconds per request spent in each port (`job:<port>`: the generation job's), mean
    /// over rounds; empty without `/metrics`.
    pub port_time_ms: PerSide<BTreeMap<String, f64>>,
    /// B's figure over A's, per round: above 1, B is slower (latency) or faster (throughput).
    pub ratio_b_over_a: Option<Ratios>,
    /// In plain words.
    pub verdict: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ratios {
    pub p50: Spread,
    pub p99: Spread,
    pub throughput: Spread,
}

/// The median of the rounds' ratios, and their range.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Spread {
    pub median: f64,
    pub min: f64,
    pub max: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Correctness {
    /// Steps of the scripted sequence replayed on each side.
    pub steps: usize,
    pub same: bool,
    pub differences: Vec<Difference>,
}

impl Spread {
    fn of(mut values: Vec<f64>) -> Option<Self> {
        values.retain(|v| v.is_finite());
        if values.is_empty() {
            return None;
        }
        values.sort_by(f64::total_cmp);
        let mid = values.len() / 2;
        let median = if values.len().is_multiple_of(2) { (values[mid - 1] + values[mid]) / 2.0 } else { values[mid] };
        Some(Self { median, min: values[0], max: values[values.len() - 1] })
    }
}

/// Ratios round by round (rounds pair A and B run back to back).
pub fn ratios(a: &[Summary], b: &[Summary]) -> Option<Ratios> {
    let pairs: Vec<_> = a.iter().zip(b).filter(|(x, y)| x.count > 0 && y.count > 0).collect();
    let of = |f: fn(&Summary) -> f64| Spread::of(pairs.iter().map(|(x, y)| f(y) / f(x)).collect());
    Some(Ratios { p50: of(|s| s.p50_ms)?, p99: of(|s| s.p99_ms)?, throughput: of(|s| s.throughput_per_sec)? })
}

/// "B is 2.1× slower at p99; 1.3× slower at p50", "same", or what failed.
pub fn verdict(ratios: Option<&Ratios>, a: &[Summary], b: &[Summary]) -> String {
    let failed = |rounds: &[Summary]| -> (u64, u64) {
        (rounds.iter().map(|s| s.errors.values().sum::<u64>()).sum(), rounds.iter().map(|s| s.count).sum())
    };
    let mut words = Vec::new();
    for (side, (errors, count)) in [("A", failed(a)), ("B", failed(b))] {
        if errors > 0 {
            words.push(format!("{side} failed {errors} of {count}"));
        }
    }
    let Some(r) = ratios else {
        words.push("not run on both sides".into());
        return words.join("; ");
    };
    let describe = |ratio: f64, at: &str| -> Option<String> {
        if (0.9..=1.1).contains(&ratio) {
            None
        } else if ratio > 1.0 {
            Some(format!("B is {ratio:.1}× slower at {at}"))
        } else {
            Some(format!("B is {:.1}× faster at {at}", 1.0 / ratio))
        }
    };
    let speed: Vec<_> = [describe(r.p99.median, "p99"), describe(r.p50.median, "p50")].into_iter().flatten().collect();
    let mut all = if speed.is_empty() { vec!["same".to_owned()] } else { speed };
    all.extend(words);
    all.join("; ")
}

impl Report {
    /// `report.md`: the same report for people: each side's adapters, a verdict per operation,
    /// the latency and throughput table, and links to the charts.
    pub fn markdown(&self) -> String {
        let mut md = String::new();
        let _ = writeln!(md, "# A/B report\n");
        let _ = writeln!(
            md,
            "Generated {} on {} logical CPUs ({}). {} round(s) of {} s (after {} s of warm-up) per side, \
             interleaved A B A B; {} workers.\n",
            self.generated_at,
            self.machine.cpus,
            self.machine.os,
            self.workload.rounds,
            self.workload.duration_secs,
            self.workload.warmup_secs,
            self.workload.concurrency
        );
        let _ = writeln!(md, "| port | A: {} | B: {} |\n| --- | --- | --- |", self.a.source, self.b.source);
        for row in &self.a.adapters {
            let other = self.b.adapters.iter().find(|b| b.port == row.port).map_or("", |b| b.backend.as_str());
            let _ = writeln!(md, "| {} | {} | {} |", row.port, row.backend, other);
        }
        let _ = writeln!(md, "\n## Verdict\n");
        for op in &self.operations {
            let _ = writeln!(md, "- **{}**: {}", op.name, op.verdict);
        }
        let _ = writeln!(
            md,
            "\n## Latency and throughput\n\nMedian over rounds; B/A is the median of the rounds' ratios, with their range.\n"
        );
        let _ = writeln!(
            md,
            "| operation | A p50 ms | A p95 | A p99 | A max | A req/s | B p50 ms | B p95 | B p99 | B max | B req/s | B/A p50 | B/A p99 | errors A / B |"
        );
        let _ = writeln!(md, "|{}", " --- |".repeat(14));
        for op in &self.operations {
            let (a, b) = (median_summary(&op.rounds.a), median_summary(&op.rounds.b));
            let cells = |s: &Option<Summary>| match s {
                Some(s) => format!(
                    "{:.2} | {:.2} | {:.2} | {:.2} | {:.1}",
                    s.p50_ms, s.p95_ms, s.p99_ms, s.max_ms, s.throughput_per_sec
                ),
                None => "– | – | – | – | –".into(),
            };
            let ratio =
                |s: Option<&Spread>| s.map_or("–".into(), |s| format!("{:.2} ({:.2}–{:.2})", s.median, s.min, s.max));
            let errors = |rounds: &[Summary]| {
                let mut all: BTreeMap<&str, u64> = BTreeMap::new();
                for s in rounds {
                    for (code, n) in &s.errors {
                        *all.entry(code.as_str()).or_default() += n;
                    }
                }
                if all.is_empty() {
                    "0".to_owned()
                } else {
                    all.iter().map(|(c, n)| format!("{c} {n}")).collect::<Vec<_>>().join(", ")
                }
            };
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} | {} | {} / {} |",
                op.name,
                cells(&a),
                cells(&b),
                ratio(op.ratio_b_over_a.as_ref().map(|r| &r.p50)),
                ratio(op.ratio_b_over_a.as_ref().map(|r| &r.p99)),
                errors(&op.rounds.a),
                errors(&op.rounds.b)
            );
        }
        let _ = writeln!(
            md,
            "\n![latency percentiles per operation](latency.svg)\n\n![throughput over time](throughput.svg)\n"
        );
        if self.a.metrics || self.b.metrics {
            let _ = writeln!(
                md,
                "## Where the time goes\n\nMilliseconds per request spent in each port, from each side's `/metrics` \
                 (`job:` the generation job's, per answer sent).\n\n| operation | A | B |\n| --- | --- | --- |"
            );
            let ports = |m: &BTreeMap<String, f64>| {
                if m.is_empty() {
                    "–".into()
                } else {
                    m.iter().map(|(p, ms)| format!("{p} {ms:.2}")).collect::<Vec<_>>().join(", ")
                }
            };
            for op in &self.operations {
                let _ = writeln!(md, "| {} | {} | {} |", op.name, ports(&op.port_time_ms.a), ports(&op.port_time_ms.b));
            }
            md.push('\n');
        }
        let _ = writeln!(md, "## Correctness\n");
        if self.correctness.same {
            let _ = writeln!(
                md,
                "The scripted sequence ({} steps) gave the same results on both sides.",
                self.correctness.steps
            );
        } else {
            let _ =
                writeln!(md, "{} of {} steps differ:\n", self.correctness.differences.len(), self.correctness.steps);
            for d in &self.correctness.differences {
                let _ = writeln!(md, "- **{}** at `{}`: A `{}`, B `{}`", d.step, d.at, clip(&d.a), clip(&d.b));
            }
        }
        md
    }
}

/// The round with the median p50, as the table's representative.
pub(super) fn median_summary(rounds: &[Summary]) -> Option<Summary> {
    let mut sorted: Vec<_> = rounds.iter().filter(|s| s.count > 0).cloned().collect();
    sorted.sort_by(|x, y| x.p50_ms.total_cmp(&y.p50_ms));
    sorted.get(sorted.len() / 2).cloned()
}

fn clip(value: &serde_json::Value) -> String {
    let text = value.to_string().replace('`', "'");
    if text.chars().count() > 160 { format!("{}…", text.chars().take(160).collect::<String>()) } else { text }
}

/// The operations the mix runs, in the report's order.
pub fn operations(workload: &Workload) -> Vec<Operation> {
    Operation::ALL.into_iter().filter(|op| workload.mix.weight(*op) > 0).collect()
}
