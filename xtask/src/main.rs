//! `cargo xtask <command>`: the project's automation, in Rust so it runs wherever cargo does.
//!
//! - `test`: the whole test suite (what the README and CI run), schemathesis over the OpenAPI
//!   document and the web app's browser tests included.
//! - `schemathesis`: only the schemathesis runs of `test`, on a freshly built server.
//! - `web`: only the browser tests of `test`, on a freshly built server.
//! - `public-api [--bless]`: compares each library crate's public API with its record in `api/`
//!   (part of `test`); `--bless` records the current one.
//! - `wasm-check`: the crates a Cloudflare Worker builds on compile for wasm32 (part of `test`).
//! - `ci`: formatting and lint checks, then `test`.
//! - `bench`: the HTTP benchmark: builds the release server and runs `tests/src/bin/bench/`
//!   against it, printing figures (never a pass/fail).

/// `xtask [mm:ss]: …` on stderr, the time since xtask started: every step says when it
/// began, so a slow or stuck step shows in the CI log.
macro_rules! say {
    ($($arg:tt)*) => {
        eprintln!("xtask [{}]: {}", $crate::elapsed(), format_args!($($arg)*))
    };
}

mod examples;
mod public_api;
mod schemathesis;
mod services;
mod wasm;
mod watchdog;
mod web;

use std::process::{Command, ExitCode};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

static STARTED: OnceLock<Instant> = OnceLock::new();

/// `mm:ss` since xtask started.
fn elapsed() -> String {
    let secs = STARTED.get_or_init(Instant::now).elapsed().as_secs();
    format!("{:02}:{:02}", secs / 60, secs % 60)
}

/// The most one `cargo test` of the whole workspace may take, build included (about 10 min
/// on a 2-core machine from a cold cache).
const WORKSPACE_LIMIT: Duration = Duration::from_secs(30 * 60);
/// The most one stack's end-to-end run, or the browser tests, may take (about a minute).
const SUITE_LIMIT: Duration = Duration::from_secs(15 * 60);

use anyhow::{Context, bail};

fn main() -> ExitCode {
    STARTED.get_or_init(Instant::now);
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("test") => test(&args[1..]),
        Some("schemathesis") => schemathesis_only(),
        Some("web") => web_only(),
        Some("public-api") => public_api_only(args.iter().any(|a| a == "--bless")),
        Some("ci") => ci(),
        Some("wasm-check") => wasm::check_only(&target_dir()),
        Some("bench") => bench(&args[1..]),
        _ => {
            eprintln!(
                "usage: cargo xtask <test [cargo test args...] | schemathesis | web | public-api [--bless] | wasm-check | ci | bench [--traditional | --edge | --copy] [--seconds N] [--connections N]>"
            );
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            say!("{err:#}");
            ExitCode::FAILURE
        }
    }
}

fn cargo(args: &[&str]) -> anyhow::Result<()> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    say!("cargo {}", args.join(" "));
    let status = Command::new(&cargo).args(args).status().with_context(|| format!("running {cargo}"))?;
    if !status.success() {
        bail!("cargo {} failed ({status})", args.join(" "));
    }
    Ok(())
}

/// Every test of every crate, unit, conformance and end-to-end; ends with one summary line
/// (`tests: N passed, N failed`) over all the test binaries.
///
/// The adapter suites talk to real PostgreSQL, Redis and S3 (s3s-fs), started here if they are
/// down; the end-to-end suite runs once per stack: embedded, traditional, mixed, and Cloudflare
/// (on the local stand-ins, then through Cloudflare's simulator, started here). Schemathesis
/// checks the OpenAPI document against the server (two runs, two tests). The library crates'
/// examples run once each as smoke tests. The web app's browser tests run in Debian's chromium
/// (installed here if missing).
fn test(extra: &[String]) -> anyhow::Result<()> {
    services::postgres()?;
    services::redis()?;
    services::s3()?;
    services::cloudflare_shim()?;
    services::clean_postgres();
    // The multi-instance tests start the server binary as separate processes.
    cargo(&["build", "--quiet", "-p", "alleato-cli", "--bin", "alleato"])?;
    let mut totals = (0, 0);
    let mut add = |run: anyhow::Result<(u64, u64)>| -> anyhow::Result<()> {
        run.map(|t| totals = (totals.0 + t.0, totals.1 + t.1))
    };
    // First, as it is the quickest to fail: a runtime-only call in the core breaks the Worker.
    let wasm = wasm::run(&target_dir());
    let wasm_failed = wasm.as_ref().map_or(0, |&(_, failed)| failed);
    let mut outcome = add(wasm).and_then(|()| match wasm_failed {
        0 => Ok(()),
        n => bail!("{n} crate(s) do not compile for wasm32-unknown-unknown (see above)"),
    });
    // Doc tests are not part of --all-targets.
    if outcome.is_ok() {
        outcome = add(cargo_test(&["test", "--workspace", "--doc"], &[], WORKSPACE_LIMIT));
    }
    let mut args = vec!["test", "--workspace", "--all-targets"];
    args.extend(extra.iter().map(String::as_str));
    if outcome.is_ok() {
        outcome = add(cargo_test(&args, &[], WORKSPACE_LIMIT));
    }
    if outcome.is_ok() {
        let runs = schemathesis::run(&target_dir());
        let failed = runs.as_ref().map_or(0, |&(_, failed)| failed);
        outcome = add(runs).and_then(|()| match failed {
            0 => Ok(()),
            n => bail!("schemathesis: {n} of its runs found failures (reports in target/schemathesis)"),
        });
    }
    if outcome.is_ok() {
        let run = public_api::run(&target_dir(), false);
        let failed = run.as_ref().map_or(0, |&(_, failed)| failed);
        outcome = add(run).and_then(|()| match failed {
            0 => Ok(()),
            n => bail!("{n} public API(s) differ from their records in api/ (see above)"),
        });
    }
    if outcome.is_ok() {
        let (passed, failed) = examples::run();
        outcome = add(Ok((passed, failed))).and_then(|()| match failed {
            0 => Ok(()),
            n => bail!("{n} of the library crates' examples failed"),
        });
    }
    if outcome.is_ok() {
        outcome = add(web::run(&target_dir()));
    }
    // The same end-to-end tests on the traditional stack, on a mixed one (the flags switch each
    // service on its own), and twice on the Cloudflare stack (USE_CLOUDFLARE=true): D1 and
    // Workers KV without credentials, so on their local stand-ins, then through Cloudflare's
    // simulator; R2 with its settings, against s3s-fs.
    for (name, env) in [
        (
            "traditional (PostgreSQL + Redis + S3)",
            [("ALLEATO_E2E_DATABASE", "postgres"), ("ALLEATO_E2E_KV", "redis"), ("ALLEATO_E2E_STORAGE", "s3")],
        ),
        (
            "mixed (PostgreSQL + embedded key-value + local files)",
            [("ALLEATO_E2E_DATABASE", "postgres"), ("ALLEATO_E2E_KV", "embedded"), ("ALLEATO_E2E_STORAGE", "local")],
        ),
        (
            "Cloudflare (D1 and Workers KV on their local stand-ins, R2 through s3s-fs with R2's settings)",
            [("ALLEATO_E2E_CLOUDFLARE", "local"), ("ALLEATO_E2E_KV", "embedded"), ("ALLEATO_E2E_STORAGE", "s3")],
        ),
        (
            "Cloudflare (D1 and Workers KV through Cloudflare's simulator, R2 through s3s-fs with R2's settings)",
            [("ALLEATO_E2E_CLOUDFLARE", "api"), ("ALLEATO_E2E_KV", "embedded"), ("ALLEATO_E2E_STORAGE", "s3")],
        ),
    ] {
        if outcome.is_ok() {
            say!("the end-to-end suite on the {name} stack");
            // The files whose tests follow the stack; `instances` and `faults` set up their own.
            let mut args = vec!["test", "-p", "alleato-e2e"];
            for suite in STACK_SUITES {
                args.extend(["--test", suite]);
            }
            outcome = add(cargo_test(&args, &env, SUITE_LIMIT));
        }
    }
    println!("tests: {} passed, {} failed", totals.0, totals.1);
    say!("done");
    outcome
}

/// Runs `cargo test ...` for at most `limit`, echoing its output, and adds up its
/// `test result:` lines.
fn cargo_test(args: &[&str], env: &[(&str, &str)], limit: Duration) -> anyhow::Result<(u64, u64)> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    say!("cargo {}", args.join(" "));
    let mut command = Command::new(&cargo);
    command.args(args).envs(env.iter().copied());
    let (mut passed, mut failed) = (0, 0);
    let status = echo_stdout(&mut command, limit, |line| {
        if let Some(rest) = line.strip_prefix("test result: ") {
            passed += count(rest, " passed");
            failed += count(rest, " failed");
        }
    })
    .with_context(|| format!("running {cargo}"))?;
    if !status.success() {
        bail!("cargo {} failed ({status}); {passed} passed, {failed} failed", args.join(" "));
    }
    Ok((passed, failed))
}

/// Runs `command` for at most `limit` (then it and what it started are killed), echoing its
/// standard output line by line and showing each line to `scan`.
fn echo_stdout(
    command: &mut Command,
    limit: Duration,
    mut scan: impl FnMut(&str),
) -> anyhow::Result<std::process::ExitStatus> {
    use std::io::{BufRead, BufReader, Write};
    let mut child = command.stdout(std::process::Stdio::piped()).spawn()?;
    let step = format!("{command:?}");
    let _watchdog = watchdog::arm(child.id(), limit, step);
    let stdout = child.stdout.take().context("the command's output")?;
    let mut out = std::io::stdout().lock();
    for line in BufReader::new(stdout).lines() {
        let line = line?;
        writeln!(out, "{line}")?;
        scan(&line);
    }
    Ok(child.wait()?)
}

/// The number before `label` in "ok. 12 passed; 0 failed; ...".
fn count(summary: &str, label: &str) -> u64 {
    summary
        .split(';')
        .find_map(|part| {
            part.trim().trim_start_matches("ok. ").trim_start_matches("FAILED. ").strip_suffix(label.trim_start())
        })
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0)
}

/// The end-to-end test files that run on whichever stack the environment names.
const STACK_SUITES: &[&str] = &[
    "access",
    "auth",
    "chats",
    "documents",
    "files",
    "generation",
    "hardening",
    "metrics",
    "openapi",
    "restart",
    "system",
    "tools",
    "users",
];

fn schemathesis_only() -> anyhow::Result<()> {
    cargo(&["build", "--quiet", "-p", "alleato-cli", "--bin", "alleato"])?;
    let (passed, failed) = schemathesis::run(&target_dir())?;
    println!("tests: {passed} passed, {failed} failed");
    if failed > 0 {
        bail!("schemathesis: {failed} of its runs found failures (reports in target/schemathesis)");
    }
    Ok(())
}

fn public_api_only(bless: bool) -> anyhow::Result<()> {
    let (passed, failed) = public_api::run(&target_dir(), bless)?;
    println!("tests: {passed} passed, {failed} failed");
    if failed > 0 {
        bail!("{failed} public API(s) differ from their records in api/");
    }
    Ok(())
}

fn web_only() -> anyhow::Result<()> {
    cargo(&["build", "--quiet", "-p", "alleato-cli", "--bin", "alleato"])?;
    let (passed, failed) = web::run(&target_dir())?;
    println!("tests: {passed} passed, {failed} failed");
    Ok(())
}

fn ci() -> anyhow::Result<()> {
    cargo(&["fmt", "--all", "--", "--check"])?;
    cargo(&["clippy", "--workspace", "--all-targets", "--", "-D", "warnings"])?;
    // The documentation builds without a warning (a broken link, a link to a private item).
    let cargo_bin = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(&cargo_bin)
        .args(["doc", "--workspace", "--no-deps", "--quiet"])
        .env("RUSTDOCFLAGS", "-D warnings")
        .status()
        .context("running cargo doc")?;
    if !status.success() {
        bail!("cargo doc failed ({status})");
    }
    test(&[])
}

/// Builds the release binary and measures it.
fn bench(extra: &[String]) -> anyhow::Result<()> {
    if extra.iter().any(|a| a == "--traditional" || a == "--copy") {
        services::postgres()?;
        services::redis()?;
        services::s3()?;
    }
    if extra.iter().any(|a| a == "--edge") {
        services::s3()?;
        services::cloudflare_shim()?;
    }
    cargo(&["build", "--release", "--bin", "alleato"])?;
    let binary = target_dir().join("release/alleato");
    let binary = binary.to_str().context("target path is not UTF-8")?;
    let mut args = vec!["run", "--release", "--quiet", "-p", "alleato-e2e", "--bin", "bench", "--", binary];
    args.extend(extra.iter().map(String::as_str));
    cargo(&args)
}

/// Where cargo builds: `CARGO_TARGET_DIR`, else the workspace's `target`.
fn target_dir() -> std::path::PathBuf {
    std::env::var("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"))
}
