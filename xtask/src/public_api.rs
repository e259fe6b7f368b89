//! The public API of every library crate, recorded in `api/<crate>.txt`: `test` fails when a
//! crate's public surface differs from its record, so no signature changes by accident;
//! `cargo xtask public-api --bless` records the new surface (and the diff goes into review,
//! with a CHANGELOG entry).
//!
//! The listing comes from rustdoc's JSON output, which only nightly rustdoc writes: on this
//! stable toolchain `RUSTC_BOOTSTRAP=1` unlocks it, in a target directory of its own so the
//! normal builds are not invalidated. `public-api` turns the JSON into one line per item.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};

/// The library crates other services build on, with the features their listing covers.
pub const CRATES: &[(&str, &str)] = &[
    ("alleato-core", "testkit,openapi"),
    ("alleato-api", "openapi"),
    ("alleato-sqlite", ""),
    ("alleato-postgres", ""),
    ("alleato-redis", ""),
    ("alleato-objects", ""),
    ("alleato-memory", ""),
    ("alleato-cloudflare", ""),
    ("alleato-ai", ""),
    ("alleato-sdk", ""),
    ("alleato-http", ""),
    ("alleato-server", ""),
    ("alleato-cli", ""),
];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The current listing of `package`.
fn listing(package: &str, features: &str, target_dir: &Path) -> anyhow::Result<String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut command = Command::new(cargo);
    command.args(["rustdoc", "--quiet", "--lib", "-p", package]);
    if !features.is_empty() {
        command.args(["--features", features]);
    }
    command
        .args(["--", "-Z", "unstable-options", "--output-format", "json"])
        .env("RUSTC_BOOTSTRAP", "1")
        .env("CARGO_TARGET_DIR", target_dir)
        .current_dir(root());
    let status = command.status().context("running cargo rustdoc")?;
    if !status.success() {
        bail!("cargo rustdoc -p {package} (JSON) failed ({status})");
    }
    let json = target_dir.join("doc").join(format!("{}.json", package.replace('-', "_")));
    let api = public_api::Builder::from_rustdoc_json(&json)
        .omit_blanket_impls(true)
        .omit_auto_trait_impls(true)
        .omit_auto_derived_impls(true)
        .build()
        .with_context(|| format!("reading {}", json.display()))?;
    Ok(api.to_string())
}

fn record_path(package: &str) -> PathBuf {
    root().join("api").join(format!("{package}.txt"))
}

/// Compares every crate with its record (or, `bless`, writes the records); (passed, failed).
pub fn run(target_dir: &Path, bless: bool) -> anyhow::Result<(u64, u64)> {
    let own = target_dir.join("public-api");
    say!("the public API of {} library crates (rustdoc JSON, in {})", CRATES.len(), own.display());
    let (mut passed, mut failed) = (0, 0);
    for (package, features) in CRATES {
        let current = listing(package, features, &own)?;
        let path = record_path(package);
        if bless {
            std::fs::create_dir_all(path.parent().context("api/")?)?;
            std::fs::write(&path, &current)?;
            println!("public API of {package}: recorded in {}", path.display());
            passed += 1;
            continue;
        }
        let recorded = std::fs::read_to_string(&path).unwrap_or_default();
        if recorded == current {
            println!("public API of {package} ... ok");
            passed += 1;
        } else {
            failed += 1;
            println!("public API of {package} ... FAILED: it differs from {}", path.display());
            print_diff(&recorded, &current);
        }
    }
    if failed > 0 {
        println!(
            "A public API changed. If the change is meant, record it with `cargo xtask public-api --bless`, \
             say so in CHANGELOG.md, and bump the version as semver asks."
        );
    }
    Ok((passed, failed))
}

/// The lines only one side has (`-` recorded, `+` now).
fn print_diff(recorded: &str, current: &str) {
    use std::collections::BTreeSet;
    let (old, new): (BTreeSet<&str>, BTreeSet<&str>) = (recorded.lines().collect(), current.lines().collect());
    for line in old.difference(&new).take(40) {
        println!("  - {line}");
    }
    for line in new.difference(&old).take(40) {
        println!("  + {line}");
    }
}
