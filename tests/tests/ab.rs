//! `alleato ab` as a user runs it: the binary, the example env files of `config/ab/` (the
//! embedded stack against PostgreSQL + Redis + S3), a short run, and the report it writes.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use alleato_cli::ab::{Operation, Report, SCHEMA, Workload};
use alleato_e2e::process::{output_within, server_binary};

fn config(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../config/ab").join(name)
}

/// The longest a short run may take here (it takes seconds): a stalled run fails the test.
const LIMIT: Duration = Duration::from_secs(300);

fn ab(a: &Path, b: &Path, out: &Path, extra: &[&str]) -> std::process::Output {
    let mut command = Command::new(server_binary());
    command.arg("ab").arg("--a").arg(a).arg("--b").arg(b).arg("--out").arg(out).args(extra);
    output_within(&mut command, LIMIT)
}

fn report(out: &Path) -> Report {
    let text = std::fs::read_to_string(out.join("report.json")).expect("report.json");
    // The schema is the type: unknown or missing fields fail here.
    serde_json::from_str(&text).expect("report.json has the documented schema")
}

/// The shipped `traditional.env`, in a schema and key prefix that `cargo xtask test` drops at
/// its next start (a later line of an env file wins).
fn traditional(dir: &Path) -> PathBuf {
    let run = uuid::Uuid::new_v4().simple().to_string();
    let shipped = std::fs::read_to_string(config("traditional.env")).unwrap();
    let path = dir.join("traditional.env");
    std::fs::write(
        &path,
        format!("{shipped}\nALLEATO_DATABASE__SCHEMA=test_ab_{run}\nALLEATO_REDIS__PREFIX=test-ab:{run}:\n"),
    )
    .unwrap();
    path
}

#[test]
fn a_short_ab_run_measures_every_operation_on_both_stacks_and_writes_the_report() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    // A chatty side: its whole log, far more than a pipe holds, lands in out/server-a.log.
    let chatty = dir.path().join("embedded-debug.env");
    let base = std::fs::read_to_string(config("embedded.env")).unwrap();
    std::fs::write(&chatty, format!("{base}\nRUST_LOG=debug\n")).unwrap();
    let output =
        ab(&chatty, &traditional(dir.path()), &out, &["--duration", "2s", "--rounds", "2", "--concurrency", "4"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "exit {:?}: {stderr}", output.status);
    let report = report(&out);
    assert_eq!(report.schema, SCHEMA);
    assert_eq!((report.workload.rounds, report.workload.concurrency), (2, 4));
    assert!(report.a.adapters[0].backend.starts_with("sqlite"), "{:?}", report.a.adapters);
    assert!(report.b.adapters[0].backend.starts_with("postgres"), "{:?}", report.b.adapters);
    let expected: Vec<_> = Operation::ALL.iter().map(|op| op.name()).collect();
    let names: Vec<_> = report.operations.iter().map(|op| op.name.as_str()).collect();
    assert_eq!(names, expected, "the default mix runs every operation");
    for op in &report.operations {
        for (side, rounds) in [("A", &op.rounds.a), ("B", &op.rounds.b)] {
            assert_eq!(rounds.len(), 2, "{} on {side}: one summary per round", op.name);
            let ran: u64 = rounds.iter().map(|r| r.count).sum();
            assert!(ran > 0, "{} ran on {side}", op.name);
            let failed: u64 = rounds.iter().flat_map(|r| r.errors.values()).sum();
            assert_eq!(failed, 0, "{} on {side}: {:?}", op.name, rounds.iter().map(|r| &r.errors).collect::<Vec<_>>());
            for r in rounds.iter().filter(|r| r.count > 0) {
                assert!(
                    r.p50_ms > 0.0 && r.p50_ms <= r.p95_ms && r.p95_ms <= r.p99_ms && r.p99_ms <= r.max_ms,
                    "{r:?}"
                );
            }
        }
        let ratios = op.ratio_b_over_a.as_ref().expect("ratios where both ran");
        assert!(ratios.p99.min <= ratios.p99.median && ratios.p99.median <= ratios.p99.max);
        assert!(!op.verdict.is_empty());
    }
    // Both sides' /metrics were read: per-port time, by the backend's own port names.
    let read_chat = report.operations.iter().find(|op| op.name == "read-chat").unwrap();
    assert!(read_chat.port_time_ms.a.contains_key("database"), "{:?}", read_chat.port_time_ms);
    assert!(read_chat.port_time_ms.b.contains_key("database"), "{:?}", read_chat.port_time_ms);
    let send = report.operations.iter().find(|op| op.name == "send").unwrap();
    assert!(send.port_time_ms.b.contains_key("job:model"), "{:?}", send.port_time_ms.b);
    assert!(report.correctness.same, "{:?}", report.correctness.differences);
    assert!(report.correctness.steps >= 15);
    assert_eq!(report.throughput_over_time.a.len(), 2);
    let markdown = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(markdown.contains("## Verdict") && markdown.contains("| read-chat |"), "{markdown}");
    let log = std::fs::metadata(out.join("server-a.log")).map_or(0, |m| m.len());
    assert!(log > 256 * 1024, "side A's debug log is in out/server-a.log ({log} bytes)");
    assert!(out.join("server-b.log").exists());
    for chart in ["latency.svg", "throughput.svg"] {
        let svg = std::fs::read_to_string(out.join(chart)).unwrap();
        assert!(svg.starts_with("<svg") && (svg.contains("<rect") || svg.contains("<polyline")), "{chart}");
    }
}

#[test]
fn a_stack_that_answers_differently_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let different = dir.path().join("different.env");
    let base = std::fs::read_to_string(config("embedded.env")).unwrap();
    // The mock's answers are longer on B: every stored answer differs.
    std::fs::write(&different, format!("{base}\nAI_MOCK_REPLY_WORDS=48\n")).unwrap();
    let out = dir.path().join("out");
    let output =
        ab(&config("embedded.env"), &different, &out, &["--duration", "500ms", "--rounds", "1", "--concurrency", "2"]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let report = report(&out);
    assert!(!report.correctness.same);
    let steps: Vec<_> = report.correctness.differences.iter().map(|d| d.step.as_str()).collect();
    assert!(steps.contains(&"send") && steps.contains(&"read-chat"), "{steps:?}");
    let send = report.correctness.differences.iter().find(|d| d.step == "send").unwrap();
    assert_eq!(send.at, "/text");
    assert!(std::fs::read_to_string(out.join("report.md")).unwrap().contains("steps differ"));
    assert!(String::from_utf8_lossy(&output.stdout).contains("step(s) differ"));
}

/// The shipped edge side (D1 and Workers KV through Cloudflare's simulator, R2 through s3s-fs)
/// runs the whole workload without an error, in a D1 database of its own.
#[test]
fn the_edge_stack_runs_the_workload_too() {
    let dir = tempfile::tempdir().unwrap();
    let shipped = std::fs::read_to_string(config("edge.env")).unwrap();
    let edge = dir.path().join("edge.env");
    let run = uuid::Uuid::new_v4().simple().to_string();
    std::fs::write(&edge, format!("{shipped}\nCLOUDFLARE_D1_DATABASE_ID=test-ab-{run}\n")).unwrap();
    let out = dir.path().join("out");
    let output = ab(&config("embedded.env"), &edge, &out, &["--duration", "1s", "--rounds", "1", "--concurrency", "2"]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let report = report(&out);
    assert!(report.b.adapters[0].backend.starts_with("d1"), "{:?}", report.b.adapters);
    for op in &report.operations {
        let failed: u64 = op.rounds.b.iter().flat_map(|r| r.errors.values()).sum();
        assert_eq!(failed, 0, "{} on the edge: {:?}", op.name, op.rounds.b);
    }
    assert!(report.correctness.same, "{:?}", report.correctness.differences);
}

#[test]
fn a_side_that_cannot_start_fails_the_command() {
    let dir = tempfile::tempdir().unwrap();
    let broken = dir.path().join("broken.env");
    std::fs::write(&broken, "DATABASE_URL=postgres://nobody@127.0.0.1:1/none\n").unwrap();
    let output = ab(&config("embedded.env"), &broken, &dir.path().join("out"), &["--duration", "500ms"]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("side B"), "{stderr}");
}

#[test]
fn the_shipped_workload_file_is_the_default() {
    let shipped = Workload::load(Some(&config("workload.toml"))).unwrap();
    let default = Workload::default();
    assert_eq!(serde_json::to_value(&shipped).unwrap(), serde_json::to_value(&default).unwrap());
    let bad = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(bad.path(), "rounds = 0\n").unwrap();
    assert!(Workload::load(Some(bad.path())).is_err());
    std::fs::write(bad.path(), "[mix]\nsned = 3\n").unwrap();
    let err = Workload::load(Some(bad.path())).unwrap_err().to_string();
    assert!(err.contains("sned"), "{err}");
}

/// Servers already running, given by URL: compared as they are, without per-port time (no
/// `/metrics` URL given).
#[tokio::test(flavor = "multi_thread")]
async fn running_servers_are_compared_by_url() {
    let (a, b) = (alleato_e2e::TestApp::spawn().await, alleato_e2e::TestApp::spawn().await);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let args = [
        "ab".to_owned(),
        "--a-url".into(),
        a.url(""),
        "--b-url".into(),
        b.url(""),
        "--duration".into(),
        "500ms".into(),
        "--rounds".into(),
        "1".into(),
        "--concurrency".into(),
        "2".into(),
        "--out".into(),
        out.display().to_string(),
    ];
    let output = tokio::task::spawn_blocking(move || output_within(Command::new(server_binary()).args(&args), LIMIT))
        .await
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let report = report(&out);
    assert_eq!(report.a.source, a.url(""));
    assert!(!report.a.metrics && !report.b.metrics);
    assert!(report.operations.iter().all(|op| op.port_time_ms.a.is_empty()));
    assert!(report.correctness.same, "{:?}", report.correctness.differences);
}
