//! The web app's browser tests (`tests/web/`): Debian's chromium driven by playwright-core under
//! node's own test runner, against the server binary `test` builds, on the embedded stack.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, bail};

use crate::services;

/// Runs the suite; returns (passed, failed) from its TAP summary.
pub fn run(target_dir: &Path) -> anyhow::Result<(u64, u64)> {
    services::chromium()?;
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/web");
    // The lock file pins playwright-core; `npm ci` installs exactly it, and it fetches no browser.
    let status = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
        .current_dir(&dir)
        .status()
        .context("running npm (Node.js is needed for the browser tests)")?;
    if !status.success() {
        bail!("npm ci in tests/web failed ({status})");
    }
    say!("the browser tests (tests/web, chromium)");
    let mut node = Command::new("node");
    node.args(["--test", "--test-reporter=tap"])
        .current_dir(&dir)
        .env("ALLEATO_BIN", target_dir.join("debug/alleato"))
        .env("ALLEATO_SCREENSHOTS", target_dir.join("web-screenshots"));
    let (mut passed, mut failed) = (0, 0);
    let status = crate::echo_stdout(&mut node, crate::SUITE_LIMIT, |line| {
        if let Some(n) = line.strip_prefix("# pass ") {
            passed = n.trim().parse().unwrap_or(0);
        } else if let Some(n) = line.strip_prefix("# fail ") {
            failed = n.trim().parse().unwrap_or(0);
        }
    })
    .context("running node")?;
    if !status.success() || failed > 0 {
        bail!(
            "the browser tests failed ({status}); {passed} passed, {failed} failed (screenshots in target/web-screenshots)"
        );
    }
    Ok((passed, failed))
}
